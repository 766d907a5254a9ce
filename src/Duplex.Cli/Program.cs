using System.CommandLine;
using Duplex.Cli;
using Duplex.Cli.Bench;
using Duplex.Cli.Connect;
using Duplex.Cli.Demo;
using Duplex.Cli.Input;
using Duplex.Cli.Serve;

var root = new RootCommand(
    "duplex: a WebSocket client, test server, load generator and demo, built on the Duplex library.\n" + ExitCodes.Summary)
{
    CommandLineValues.NoColor,
    DemoCommand.Create(),
    ConnectCommand.Create(),
    ServeCommand.Create(),
    BenchCommand.Create(),
};

ParseResult parse = root.Parse(args.Length == 0 ? ["--help"] : args);
if (parse.Errors.Count > 0)
{
    foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
    {
        Console.Error.WriteLine($"duplex: {error.Message}");
    }

    Console.Error.WriteLine("See 'duplex --help' (or 'duplex <command> --help').");
    return ExitCodes.Usage;
}

// After Ctrl+C a command closes its connections cleanly (each close bounded by 5 s) before it returns.
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(15) });
