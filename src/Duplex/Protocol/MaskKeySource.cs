using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Duplex.Protocol;

/// <summary>
/// Fresh masking keys from a cryptographically strong generator (RFC 6455 §5.3: the key "MUST be
/// derived from a strong source of entropy"). Keys are drawn from the generator in blocks so a
/// small frame does not pay for one generator call each (16 keys per call: small enough that an
/// idle connection keeps little). Not thread-safe: the connection uses it under its send lock.
/// </summary>
internal sealed class MaskKeySource
{
    private const int BlockSize = 64;
    private readonly byte[] _block = new byte[BlockSize];
    private int _position = BlockSize;

    /// <summary>The next key, in the byte order of <see cref="FrameHeader.MaskKey"/>.</summary>
    public int Next()
    {
        if (_position == BlockSize)
        {
            RandomNumberGenerator.Fill(_block);
            _position = 0;
        }

        int key = BinaryPrimitives.ReadInt32LittleEndian(_block.AsSpan(_position));
        _position += 4;
        return key;
    }
}
