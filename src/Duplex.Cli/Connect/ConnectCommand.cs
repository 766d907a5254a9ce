using System.CommandLine;
using System.Text;
using Duplex.Cli.Input;
using Duplex.Cli.Output;

namespace Duplex.Cli.Connect;

/// <summary><c>duplex connect &lt;url&gt;</c>: an interactive or scripted WebSocket client.</summary>
internal static class ConnectCommand
{
    public static Command Create()
    {
        Argument<Uri> url = CommandLineValues.UrlArgument("The server: ws://, wss:// (http:// and https:// are taken as ws:// and wss://).");
        var header = new Option<string[]>("--header", "-H")
        {
            Description = "A handshake header, \"Name: value\"; repeat for more.",
            HelpName = "Name: value",
            Arity = ArgumentArity.OneOrMore,
        };
        header.Validators.Add(result =>
        {
            foreach (string value in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (ParseHeader(value) is null)
                {
                    result.AddError($"-H '{value}' is not \"Name: value\".");
                }
            }
        });
        var subProtocol = new Option<string[]>("--subprotocol") { Description = "Offer this subprotocol (Sec-WebSocket-Protocol); repeat for more.", HelpName = "name", Arity = ArgumentArity.OneOrMore };
        var insecure = new Option<bool>("--insecure", "-k") { Description = "Do not check the server's TLS certificate (testing only)." };
        var ca = new Option<FileInfo?>("--ca") { Description = "Trust the CA (or self-signed server certificate) in this PEM file.", HelpName = "file.pem" };
        var cert = new Option<FileInfo?>("--cert") { Description = "Client certificate, PEM (with its key, or see --key).", HelpName = "file.pem" };
        var key = new Option<FileInfo?>("--key") { Description = "The client certificate's private key, PEM.", HelpName = "file.pem" };
        var proxy = new Option<Uri?>("--proxy")
        {
            Description = "Connect through this HTTP proxy (e.g. http://127.0.0.1:3128).",
            HelpName = "url",
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
                {
                    result.AddError($"--proxy '{text}' is not an http:// or https:// URL.");
                    return null;
                }

                return uri;
            },
        };
        Option<TimeSpan?> pingInterval = CommandLineValues.OptionalDurationOption("--ping-interval", "Keepalive Ping interval (default 20s; inf turns keepalive off).");
        var noReconnect = new Option<bool>("--no-reconnect") { Description = "Do not reconnect when the connection drops; exit with code 6." };
        var json = new Option<bool>("--json") { Description = "Pretty-print received JSON." };
        var binary = new Option<bool>("--binary") { Description = "Send every input line as a binary message, written in hex (e.g. 48 65 6c 6c 6f)." };
        var base64 = new Option<bool>("--base64") { Description = "Like --binary, with base64 input; received binary is printed as base64." };
        var jsonRpc = new Option<bool>("--jsonrpc") { Description = "Wrap every input line `method [params]` as a JSON-RPC 2.0 request with increasing ids." };
        Option<TimeSpan?> wait = CommandLineValues.OptionalDurationOption("--wait", "With piped input: how long to wait for messages after the last line (default 1s; with --count, inf).");
        var count = new Option<int?>("--count", "-n") { Description = "Exit after N received messages.", HelpName = "N" };
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError("--count must be at least 1.");
            }
        });
        var one = new Option<bool>("-1") { Description = "Exit after one received message (--count 1)." };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Interactive even when input is redirected: no waiting after the input ends." };
        var raw = new Option<bool>("--raw") { Description = "Print received messages only, as they are: no time, no direction, no sent lines." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Show the library's debug log on standard error (secrets are never logged)." };

        var command = new Command("connect", "Connect to a WebSocket server: typed lines are sent and received messages printed with time and direction; piped input is sent line by line. Commands: /ping [payload], /close [code] [reason], /binary <hex>, /quit.\n" + ExitCodes.Summary)
        {
            url, header, subProtocol, insecure, ca, cert, key, proxy, pingInterval, noReconnect, json, binary, base64, jsonRpc, wait, count, one, interactive, raw, verbose,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(key) is not null && result.GetValue(cert) is null)
            {
                result.AddError("--key needs --cert.");
            }

            if (result.GetValue(jsonRpc) && (result.GetValue(binary) || result.GetValue(base64)))
            {
                result.AddError("--jsonrpc sends text; it cannot be combined with --binary or --base64.");
            }

            if (result.GetValue(one) && result.GetValue(count) is not null)
            {
                result.AddError("-1 is --count 1; give one of them.");
            }

            foreach (FileInfo? file in new[] { result.GetValue(ca), result.GetValue(cert), result.GetValue(key) })
            {
                if (file is { Exists: false })
                {
                    result.AddError($"The file {file.FullName} does not exist.");
                }
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var terminal = new Terminal(parse.GetValue(CommandLineValues.NoColor));
            int? messages = parse.GetValue(one) ? 1 : parse.GetValue(count);
            var settings = new ConnectSettings
            {
                Url = parse.GetValue(url)!,
                Headers = (parse.GetValue(header) ?? []).Select(h => ParseHeader(h)!.Value).ToArray(),
                SubProtocols = parse.GetValue(subProtocol) ?? [],
                Insecure = parse.GetValue(insecure),
                CaFile = parse.GetValue(ca),
                CertificateFile = parse.GetValue(cert),
                KeyFile = parse.GetValue(key),
                Proxy = parse.GetValue(proxy),
                PingInterval = parse.GetValue(pingInterval),
                NoReconnect = parse.GetValue(noReconnect),
                Json = parse.GetValue(json),
                Binary = parse.GetValue(base64) ? BinaryFormat.Base64 : parse.GetValue(binary) ? BinaryFormat.Hex : null,
                JsonRpc = parse.GetValue(jsonRpc),
                Wait = parse.GetValue(wait) ?? (messages is null ? TimeSpan.FromSeconds(1) : Timeout.InfiniteTimeSpan),
                Count = messages,
                ForceInteractive = parse.GetValue(interactive),
                Raw = parse.GetValue(raw),
                Verbose = parse.GetValue(verbose),
            };

            bool isInteractive = settings.ForceInteractive || terminal.IsInputTerminal;
            TextReader input = terminal.IsInputTerminal
                ? Console.In
                : new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            var session = new ConnectSession(settings, terminal);
            return await session.RunAsync(input, isInteractive, cancellationToken);
        });
        return command;
    }

    /// <summary>Splits "Name: value" at the first colon; null when there is none or the name is empty.</summary>
    internal static KeyValuePair<string, string>? ParseHeader(string text)
    {
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return null;
        }

        string name = text[..colon].Trim();
        return name.Length == 0 ? null : new KeyValuePair<string, string>(name, text[(colon + 1)..].TrimStart(' ', '\t'));
    }
}
