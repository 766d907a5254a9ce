using System.CommandLine;
using Duplex.Cli.Input;
using Duplex.Cli.Output;

namespace Duplex.Cli.Serve;

/// <summary><c>duplex serve</c>: a local WebSocket test server on 127.0.0.1.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int>("--port", "-p") { Description = "The port on 127.0.0.1; 0 picks a free one.", DefaultValueFactory = _ => 0 };
        port.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 65535)
            {
                result.AddError("--port must be from 0 to 65535.");
            }
        });
        var headers = new Option<bool>("--headers") { Description = "First reply to every connection with the handshake headers received (JSON, secrets masked)." };
        Option<TimeSpan?> dropEvery = CommandLineValues.OptionalDurationOption("--drop-every", "Drop every connection (no closing handshake) this long after it opens.", allowInfinite: false);
        var reject = new Option<int?>("--reject") { Description = "Refuse every upgrade with this HTTP status (e.g. 401, 403, 503).", HelpName = "status" };
        reject.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } status && status is < 200 or > 599 or 101)
            {
                result.AddError("--reject needs an HTTP status from 200 to 599.");
            }
        });
        var tls = new Option<bool>("--tls") { Description = "Listen with TLS (wss://) and a generated self-signed certificate; its SHA-256 fingerprint is printed." };
        var exportCertificate = new Option<FileInfo?>("--export-cert") { Description = "With --tls, write the certificate (PEM) to this file, for `duplex connect --ca`.", HelpName = "file" };
        var push = new Option<int>("--push") { Description = "Push N messages to every connection as soon as it opens.", HelpName = "N", DefaultValueFactory = _ => 0 };
        push.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 0)
            {
                result.AddError("--push cannot be negative.");
            }
        });

        var command = new Command("serve", "Run a local WebSocket test server on 127.0.0.1: echo by default; /headers replies with the handshake headers, /reject/{status} refuses the upgrade. Stop it with Ctrl+C.")
        {
            port, headers, dropEvery, reject, tls, exportCertificate, push,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(exportCertificate) is not null && !result.GetValue(tls))
            {
                result.AddError("--export-cert needs --tls.");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var terminal = new Terminal(parse.GetValue(CommandLineValues.NoColor));
            var options = new LocalServerOptions
            {
                Port = parse.GetValue(port),
                ReplyHeaders = parse.GetValue(headers),
                DropEvery = parse.GetValue(dropEvery) ?? Timeout.InfiniteTimeSpan,
                RejectStatus = parse.GetValue(reject),
                Tls = parse.GetValue(tls),
                Push = parse.GetValue(push),
            };
            return await RunAsync(terminal, options, parse.GetValue(exportCertificate), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(Terminal terminal, LocalServerOptions options, FileInfo? exportCertificate, CancellationToken cancellationToken)
    {
        LocalServer server;
        try
        {
            server = await LocalServer.StartAsync(options, line => terminal.Line($"[grey]{Timestamp()}[/] {Terminal.Escape(line)}"), cancellationToken);
        }
        catch (IOException ex)
        {
            terminal.ErrorLine($"[red]cannot listen on 127.0.0.1:{options.Port}:[/] {Terminal.Escape(ex.Message)}");
            return ExitCodes.Network;
        }

        await using (server)
        {
            if (server.Certificate is { } certificate)
            {
                terminal.Line($"certificate sha256 {SelfSignedCertificate.Fingerprint(certificate)} (self-signed for localhost and 127.0.0.1)");
                if (exportCertificate is not null)
                {
                    await File.WriteAllTextAsync(exportCertificate.FullName, certificate.ExportCertificatePem() + "\n", cancellationToken);
                    terminal.Line($"certificate written to {Terminal.Escape(exportCertificate.FullName)}");
                }
            }

            var behaviour = new List<string> { options.RejectStatus is { } status ? $"refusing every upgrade with {status}" : "echo" };
            if (options.ReplyHeaders)
            {
                behaviour.Add("replying with the handshake headers");
            }

            if (options.Push > 0)
            {
                behaviour.Add($"pushing {options.Push} messages on connect");
            }

            if (options.DropEvery != Timeout.InfiniteTimeSpan)
            {
                behaviour.Add($"dropping connections after {Input.Duration.Format(options.DropEvery)}");
            }

            terminal.Line($"[green]listening on {server.Url}[/] ({string.Join(", ", behaviour)}; Ctrl+C stops)");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                terminal.Line("stopping");
            }
        }

        return ExitCodes.Success;
    }

    private static string Timestamp() => DateTime.Now.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
}
