using System.CommandLine;
using Duplex.Cli.Input;
using Duplex.Cli.Output;

namespace Duplex.Cli.Demo;

/// <summary><c>duplex demo</c>: every capability of the library against an embedded local server, each step checked.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo", "Walk through every capability against an embedded server on 127.0.0.1 (offline, a few seconds): headers, text and JSON, ping, reconnect with the outbox, a rejected handshake, a manager, TLS, logging, a clean close. Exits 0 only if every step did what it says.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var terminal = new Terminal(parse.GetValue(CommandLineValues.NoColor));
            await using var demo = new DemoRun(terminal);
            return await demo.RunAsync(cancellationToken);
        });
        return command;
    }
}
