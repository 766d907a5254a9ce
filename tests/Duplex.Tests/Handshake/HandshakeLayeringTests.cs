using System.Reflection;
using System.Reflection.Emit;
using Duplex.Handshake;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Handshake;

/// <summary>
/// The shape of the Handshake layer, checked on the built assembly (every type a type's signatures
/// and method bodies name) and on the sources: the two transports never reach each other, the rules
/// touch no I/O, and the layer calls nothing to its right.
/// </summary>
public sealed class HandshakeLayeringTests
{
    private static readonly Assembly s_assembly = typeof(WebSocketHandshakeOptions).Assembly;

    private static readonly Type[] s_socketSide = [typeof(SocketWebSocketTransport)];

    private static readonly Type[] s_httpSide = [typeof(HttpWebSocketTransport), typeof(HttpInvokerCache)];

    private static readonly Lazy<Dictionary<Type, HashSet<Type>>> s_references = new(TypeReferences.Of);

    [Fact]
    public void SocketTransport_NeverReachesTheHttpTransport()
    {
        AssertUnreachable(s_socketSide, s_httpSide);
    }

    [Fact]
    public void HttpTransport_NeverReachesTheSocketTransport()
    {
        AssertUnreachable(s_httpSide, s_socketSide);
    }

    [Fact]
    public void Selector_IsWhereBothTransportsAreNamed()
    {
        // Also shows the scan sees references made only inside method bodies (and async state machines).
        HashSet<Type> used = s_references.Value[typeof(WebSocketTransportSelector)];
        Assert.Contains(typeof(SocketWebSocketTransport), used);
        Assert.Contains(typeof(HttpWebSocketTransport), used);
        Assert.Contains(typeof(OpeningHandshake), s_references.Value[typeof(SocketWebSocketTransport)]);
    }

    [Fact]
    public void TransportSources_NeverNameEachOther()
    {
        string folder = RepositoryRoot.Combine("src", "Duplex", "Handshake", "Transports");
        foreach (string file in Directory.EnumerateFiles(folder, "*.cs"))
        {
            string name = Path.GetFileName(file);
            string text = File.ReadAllText(file);
            if (name.StartsWith("SocketWebSocketTransport", StringComparison.Ordinal))
            {
                Assert.DoesNotContain("HttpWebSocketTransport", text, StringComparison.Ordinal);
                Assert.DoesNotContain("HttpInvokerCache", text, StringComparison.Ordinal);
            }
            else if (name.StartsWith("HttpWebSocketTransport", StringComparison.Ordinal) || name.StartsWith("HttpInvokerCache", StringComparison.Ordinal))
            {
                Assert.DoesNotContain("SocketWebSocketTransport", text, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Rules_TouchNoSocketsTlsStreamsOrHttpStack_AndNoTransport()
    {
        foreach (Type rule in TypesIn("Duplex.Handshake.Rules"))
        {
            foreach (Type used in s_references.Value[rule])
            {
                string why = $"{rule.Name} uses {used.FullName}";
                Assert.False(typeof(Stream).IsAssignableFrom(used), why);
                Assert.False(typeof(HttpMessageHandler).IsAssignableFrom(used) || typeof(HttpMessageInvoker).IsAssignableFrom(used), why);
                Assert.NotEqual("System.Net.Sockets", used.Namespace);
                Assert.False(used.Namespace?.StartsWith("Duplex.Handshake.Transports", StringComparison.Ordinal) ?? false, why);
                Assert.False(typeof(HandshakeExchange).IsAssignableFrom(used), why);
            }
        }
    }

    [Fact]
    public void HandshakeLayer_UsesNothingFromConnectionClientOrManager()
    {
        foreach (Type type in TypesIn("Duplex.Handshake"))
        {
            foreach (Type used in s_references.Value[type])
            {
                Assert.False(
                    used.Namespace is "Duplex.Connection" or "Duplex.Client" or "Duplex.Manager" ||
                    (used.Namespace?.StartsWith("Duplex.Connection.", StringComparison.Ordinal) ?? false) ||
                    (used.Namespace?.StartsWith("Duplex.Client.", StringComparison.Ordinal) ?? false) ||
                    (used.Namespace?.StartsWith("Duplex.Manager.", StringComparison.Ordinal) ?? false),
                    $"{type.FullName} uses {used.FullName}");
            }
        }
    }

    private static IEnumerable<Type> TypesIn(string namespacePrefix) =>
        s_references.Value.Keys.Where(t => t.Namespace == namespacePrefix || (t.Namespace?.StartsWith(namespacePrefix + ".", StringComparison.Ordinal) ?? false));

    /// <summary>Follows references through every type of the assembly from <paramref name="from"/>; none of <paramref name="to"/> may be met.</summary>
    private static void AssertUnreachable(Type[] from, Type[] to)
    {
        Dictionary<Type, HashSet<Type>> references = s_references.Value;
        var path = new Dictionary<Type, Type?>();
        var queue = new Queue<Type>();
        foreach (Type start in from)
        {
            path[start] = null;
            queue.Enqueue(start);
        }

        while (queue.TryDequeue(out Type? type))
        {
            if (Array.IndexOf(to, type) >= 0)
            {
                var chain = new List<string>();
                for (Type? step = type; step is not null; step = path[step])
                {
                    chain.Insert(0, step.Name);
                }

                Assert.Fail("Reached through " + string.Join(" -> ", chain));
            }

            foreach (Type next in references.GetValueOrDefault(type) ?? [])
            {
                if (next.Assembly == s_assembly && path.TryAdd(next, type))
                {
                    queue.Enqueue(next);
                }
            }
        }

        Assert.NotEmpty(path);
    }

    /// <summary>
    /// For each top-level type of the assembly, the top-level types its own members and nested types
    /// (async state machines and lambda closures included) refer to: base types, interfaces, field
    /// and signature types, and every type, method and field token in method bodies.
    /// </summary>
    private static class TypeReferences
    {
        private static readonly Dictionary<short, OpCode> s_opCodes = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => o.Value);

        private const BindingFlags All =
            BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

        public static Dictionary<Type, HashSet<Type>> Of()
        {
            var result = new Dictionary<Type, HashSet<Type>>();
            foreach (Type type in s_assembly.GetTypes())
            {
                Type owner = Outermost(type);
                if (!result.TryGetValue(owner, out HashSet<Type>? used))
                {
                    result[owner] = used = [];
                }

                Collect(type, used);
                used.Remove(owner);
            }

            return result;
        }

        private static void Collect(Type type, HashSet<Type> used)
        {
            Add(used, type.BaseType);
            foreach (Type contract in type.GetInterfaces())
            {
                Add(used, contract);
            }

            foreach (FieldInfo field in type.GetFields(All))
            {
                Add(used, field.FieldType);
            }

            foreach (MethodBase method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
            {
                if (method is MethodInfo info)
                {
                    Add(used, info.ReturnType);
                }

                foreach (ParameterInfo parameter in method.GetParameters())
                {
                    Add(used, parameter.ParameterType);
                }

                if (method.GetMethodBody()?.GetILAsByteArray() is { } il)
                {
                    foreach (int token in Tokens(il))
                    {
                        AddToken(used, method, token);
                    }
                }
            }
        }

        private static void AddToken(HashSet<Type> used, MethodBase method, int token)
        {
            Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
            Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
            MemberInfo? member;
            try
            {
                member = method.Module.ResolveMember(token, typeArguments, methodArguments);
            }
            catch (ArgumentException)
            {
                return; // a signature token (calli), which names no member
            }

            switch (member)
            {
                case Type type:
                    Add(used, type);
                    break;
                case MethodBase called:
                    Add(used, called.DeclaringType);
                    if (called is MethodInfo { IsGenericMethod: true } generic)
                    {
                        foreach (Type argument in generic.GetGenericArguments())
                        {
                            Add(used, argument);
                        }
                    }

                    break;
                case FieldInfo field:
                    Add(used, field.DeclaringType);
                    Add(used, field.FieldType);
                    break;
            }
        }

        /// <summary>The metadata tokens of an IL body: the operands of the instructions that take one.</summary>
        private static IEnumerable<int> Tokens(byte[] il)
        {
            for (int i = 0; i < il.Length;)
            {
                short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
                i += il[i] == 0xFE ? 2 : 1;
                OpCode code = s_opCodes[value];
                switch (code.OperandType)
                {
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok:
                        yield return BitConverter.ToInt32(il, i);
                        i += 4;
                        break;
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        i += 1;
                        break;
                    case OperandType.InlineVar:
                        i += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        i += 8;
                        break;
                    case OperandType.InlineSwitch:
                        i += 4 + (4 * BitConverter.ToInt32(il, i));
                        break;
                    default:
                        i += 4;
                        break;
                }
            }
        }

        private static void Add(HashSet<Type> used, Type? type)
        {
            if (type is null)
            {
                return;
            }

            if (type.HasElementType)
            {
                Add(used, type.GetElementType());
                return;
            }

            if (type.IsGenericParameter)
            {
                return;
            }

            if (type.IsGenericType && !type.IsGenericTypeDefinition)
            {
                foreach (Type argument in type.GetGenericArguments())
                {
                    Add(used, argument);
                }

                type = type.GetGenericTypeDefinition();
            }

            used.Add(type.Assembly == s_assembly ? Outermost(type) : type);
        }

        private static Type Outermost(Type type)
        {
            while (type.DeclaringType is { } outer)
            {
                type = outer;
            }

            return type;
        }
    }
}
