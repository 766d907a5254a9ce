using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// The <c>client</c> command: one client library in a process of its own, as an application runs it,
/// driven by the runner over <see cref="ScenarioProtocol"/>. Each command runs the same
/// <see cref="ScenarioHost"/> code as the in-process mode, so the two modes differ only in where
/// the client lives. Standard output carries protocol lines only; the process exits on <c>quit</c>
/// or when its standard input closes, so it never outlives the runner.
/// </summary>
internal static class ClientProcess
{
    /// <summary>
    /// A command the runner has stopped waiting for is abandoned by the runner, which kills this
    /// process; this bound only stops a child whose runner is gone from hanging on forever.
    /// </summary>
    private static readonly TimeSpan s_commandLimit = TimeSpan.FromMinutes(10);

    /// <summary>Arguments: <c>--client ID --server URL --size N --binary-size N [--certificate BASE64]</c>.</summary>
    public static async Task<int> RunChildAsync(IReadOnlyList<string> args)
    {
        ClientKind kind = ClientCatalog.Parse(Value(args, "--client"));
        var server = new Uri(Value(args, "--server"));
        int size = int.Parse(Value(args, "--size"), CultureInfo.InvariantCulture);
        int binarySize = int.Parse(Value(args, "--binary-size"), CultureInfo.InvariantCulture);
        string? certificateText = OptionalValue(args, "--certificate");
        using X509Certificate2? certificate = certificateText is null ? null : X509CertificateLoader.LoadCertificate(Convert.FromBase64String(certificateText));

        await using var host = new ScenarioHost(kind, server, certificate, size, binarySize);
        using var input = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true };
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{ScenarioProtocol.Ready} {Environment.ProcessId}"));
        while (await input.ReadLineAsync() is { } line)
        {
            string[] command = line.Trim('\uFEFF', ' ', '\r').Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (command.Length == 0)
            {
                continue;
            }

            string reply;
            using (var limit = new CancellationTokenSource(s_commandLimit))
            {
                try
                {
                    reply = await ExecuteAsync(host, command, limit.Token);
                }
#pragma warning disable CA1031 // Any failure of a command becomes an error reply; the runner reports it as a failed run.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    reply = $"{ScenarioProtocol.Error} {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}";
                }
            }

            await output.WriteLineAsync(reply);
            if (command[0] == ScenarioProtocol.Quit)
            {
                break;
            }
        }

        return 0;
    }

    private static async Task<string> ExecuteAsync(ScenarioHost host, string[] command, CancellationToken cancellationToken)
    {
        switch (command[0])
        {
            case ScenarioProtocol.Warm:
                await host.WarmAsync(new WarmUp(Count(command, 1, 0), Count(command, 2, 0), Count(command, 3, 0), Count(command, 4, 0)), cancellationToken);
                return ScenarioProtocol.Ok;
            case ScenarioProtocol.Receive:
                return $"{ScenarioProtocol.Ok} {ScenarioProtocol.Format(await host.ReceiveAsync(Count(command, 1), cancellationToken))}";
            case ScenarioProtocol.Send:
                return $"{ScenarioProtocol.Ok} {ScenarioProtocol.Format(await host.SendAsync(Count(command, 1), cancellationToken))}";
            case ScenarioProtocol.Connect:
                await host.OpenEchoAsync(cancellationToken);
                return ScenarioProtocol.Ok;
            case ScenarioProtocol.TextBlock:
                return $"{ScenarioProtocol.Ok} {ScenarioProtocol.Format(await host.EchoTextBlockAsync(Count(command, 1), cancellationToken))}";
            case ScenarioProtocol.BinaryBlock:
                return $"{ScenarioProtocol.Ok} {ScenarioProtocol.Format(await host.EchoBinaryBlockAsync(Count(command, 1), cancellationToken))}";
            case ScenarioProtocol.Close:
                await host.CloseEchoAsync(cancellationToken);
                return ScenarioProtocol.Ok;
            case ScenarioProtocol.Quit:
                return ScenarioProtocol.Ok;
            default:
                throw new ArgumentException($"Unknown command '{command[0]}'.");
        }
    }

    private static int Count(string[] command, int index, int least = 1) =>
        index < command.Length && int.TryParse(command[index], NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count >= least
            ? count
            : throw new ArgumentException($"'{command[0]}' needs a count of at least {least} as argument {index}.");

    private static string Value(IReadOnlyList<string> args, string name) =>
        OptionalValue(args, name) ?? throw new ArgumentException($"The client command needs {name}.");

    private static string? OptionalValue(IReadOnlyList<string> args, string name)
    {
        for (int i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == name)
            {
                return args[i + 1];
            }
        }

        return null;
    }
}
