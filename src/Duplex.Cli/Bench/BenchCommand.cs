using System.CommandLine;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Duplex.Cli.Connect;
using Duplex.Cli.Input;
using Duplex.Cli.Output;
using Duplex.Connection;
using Spectre.Console;

namespace Duplex.Cli.Bench;

/// <summary><c>duplex bench &lt;url&gt;</c>: a load generator against an echo server.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        Argument<Uri> url = CommandLineValues.UrlArgument("An echo server (duplex serve is one).");
        var connections = PositiveInt("--connections", "-c", "Connections, all open at once.", 10);
        var messages = PositiveInt("--messages", "-m", "Messages per connection.", 1000);
        var size = PositiveInt("--size", "-s", "Bytes per message.", 64);
        var rate = new Option<double>("--rate", "-r") { Description = "Messages per second over all connections; 0 sends as fast as the echoes come back.", DefaultValueFactory = _ => 0 };
        rate.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() < 0)
            {
                result.AddError("--rate cannot be negative.");
            }
        });
        Option<TimeSpan> timeout = CommandLineValues.DurationOption("--timeout", "How long to wait for one echo before counting the connection's remaining messages as errors.", TimeSpan.FromSeconds(30), allowInfinite: false);
        var insecure = new Option<bool>("--insecure", "-k") { Description = "Do not check the server's TLS certificate (testing only)." };
        var header = new Option<string[]>("--header", "-H") { Description = "A handshake header, \"Name: value\"; repeat for more.", HelpName = "Name: value", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON only, for machines." };

        var command = new Command("bench", "Measure an echo server: N connections send M messages of S bytes each, one in flight per connection; prints throughput and round-trip percentiles (p50, p90, p99, p99.9).\n" + ExitCodes.Summary)
        {
            url, connections, messages, size, rate, timeout, insecure, header, json,
        };
        command.Validators.Add(result =>
        {
            foreach (string value in result.GetValue(header) ?? [])
            {
                if (ConnectCommand.ParseHeader(value) is null)
                {
                    result.AddError($"-H '{value}' is not \"Name: value\".");
                }
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var terminal = new Terminal(parse.GetValue(CommandLineValues.NoColor));
            var settings = new BenchSettings
            {
                Url = parse.GetValue(url)!,
                Connections = parse.GetValue(connections),
                Messages = parse.GetValue(messages),
                Size = parse.GetValue(size),
                Rate = parse.GetValue(rate),
                Timeout = parse.GetValue(timeout),
                Insecure = parse.GetValue(insecure),
                Headers = (parse.GetValue(header) ?? []).Select(h => ConnectCommand.ParseHeader(h)!.Value).ToArray(),
                Json = parse.GetValue(json),
            };
            return await RunAsync(terminal, settings, cancellationToken);
        });
        return command;
    }

    private static Option<int> PositiveInt(string name, string alias, string description, int defaultValue)
    {
        var option = new Option<int>(name, alias) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError($"{name} must be at least 1.");
            }
        });
        return option;
    }

    private static async Task<int> RunAsync(Terminal terminal, BenchSettings settings, CancellationToken cancellationToken)
    {
        var run = new BenchRun(settings);
        string rate = settings.Rate > 0 ? $"{settings.Rate.ToString(CultureInfo.InvariantCulture)} msg/s" : "as fast as possible";
        terminal.ErrorLine($"bench {Terminal.Escape(SecretRedaction.Uri(settings.Url))}: {settings.Connections} connections × {settings.Messages} messages × {settings.Size} bytes, {rate}");
        WebSocketConnection[] connections;
        try
        {
            connections = await run.ConnectAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception ex) when (ConnectFailure.From(ex) is { } failure)
        {
            terminal.ErrorLine($"[red]{Terminal.Escape(failure.Summary)}[/]");
            foreach (string detail in failure.Details)
            {
                terminal.ErrorLine(Terminal.Escape(detail));
            }

            return failure.ExitCode;
        }

        BenchReport report;
        try
        {
            Task<BenchReport> measuring = run.RunAsync(connections, cancellationToken);
            if (terminal.Styled && !settings.Json)
            {
                await terminal.Out.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async progress =>
                    {
                        ProgressTask task = progress.AddTask("round trips", maxValue: run.Total);
                        while (!measuring.IsCompleted)
                        {
                            task.Value = run.Completed;
                            await Task.WhenAny(measuring, Task.Delay(100, CancellationToken.None));
                        }

                        task.Value = run.Completed;
                    });
            }

            report = await measuring;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            terminal.ErrorLine("interrupted");
            return ExitCodes.Interrupted;
        }
        finally
        {
            await CloseAllAsync(connections);
        }

        if (settings.Json)
        {
            terminal.Text(JsonSerializer.Serialize(report, BenchJson.Default.BenchReport));
        }
        else
        {
            terminal.Render(Table(report));
        }

        if (report.Errors > 0)
        {
            terminal.ErrorLine($"[red]{report.Errors} of {run.Total} messages had no matching echo[/]");
            return ExitCodes.Failure;
        }

        return ExitCodes.Success;
    }

    private static Table Table(BenchReport report)
    {
        static string Ms(double value) => value.ToString("0.000", CultureInfo.InvariantCulture) + " ms";
        var table = new Table().Title("duplex bench").AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("round trips", $"{report.Completed.ToString(CultureInfo.InvariantCulture)} of {((long)report.Connections * report.MessagesPerConnection).ToString(CultureInfo.InvariantCulture)}");
        table.AddRow("errors", report.Errors.ToString(CultureInfo.InvariantCulture));
        table.AddRow("elapsed", report.ElapsedSeconds.ToString("0.000", CultureInfo.InvariantCulture) + " s");
        table.AddRow("throughput", report.MessagesPerSecond.ToString("0.0", CultureInfo.InvariantCulture) + " msg/s");
        table.AddRow("bandwidth", report.MegabytesPerSecond.ToString("0.000", CultureInfo.InvariantCulture) + " MiB/s each way");
        table.AddRow("latency mean", Ms(report.LatencyMs.Mean));
        table.AddRow("latency p50", Ms(report.LatencyMs.P50));
        table.AddRow("latency p90", Ms(report.LatencyMs.P90));
        table.AddRow("latency p99", Ms(report.LatencyMs.P99));
        table.AddRow("latency p99.9", Ms(report.LatencyMs.P999));
        table.AddRow("latency max", Ms(report.LatencyMs.Max));
        return table;
    }

    private static async Task CloseAllAsync(WebSocketConnection[] connections)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await Task.WhenAll(connections.Select(async connection =>
        {
            try
            {
                await connection.CloseAsync(WebSocketCloseStatus.NormalClosure, "bench done", timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or WebSocketProtocolException or InvalidOperationException)
            {
                // Already gone: disposing below ends it.
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }));
    }
}
