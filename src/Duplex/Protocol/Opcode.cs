namespace Duplex.Protocol;

/// <summary>Frame opcodes (RFC 6455 §5.2, §11.8). Values 3–7 and 11–15 are reserved.</summary>
internal enum Opcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>Classification of opcodes.</summary>
internal static class OpcodeRules
{
    /// <summary>RFC 6455 §5.5: control frames have the most significant opcode bit set.</summary>
    public static bool IsControl(Opcode opcode) => ((byte)opcode & 0x8) != 0;

    /// <summary>Whether the opcode is one RFC 6455 defines (all others are reserved, §5.2).</summary>
    public static bool IsDefined(Opcode opcode) =>
        opcode is Opcode.Continuation or Opcode.Text or Opcode.Binary or Opcode.Close or Opcode.Ping or Opcode.Pong;
}
