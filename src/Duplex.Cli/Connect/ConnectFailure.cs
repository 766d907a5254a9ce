using System.Net.WebSockets;
using Duplex.Cli.Output;

namespace Duplex.Cli.Connect;

/// <summary>What a failure to connect (or a lost connection) means: the exit code, and lines that explain it.</summary>
internal sealed class ConnectFailure
{
    private ConnectFailure(int exitCode, string summary, IReadOnlyList<string> details)
    {
        ExitCode = exitCode;
        Summary = summary;
        Details = details;
    }

    public int ExitCode { get; }

    /// <summary>One line, plain text.</summary>
    public string Summary { get; }

    /// <summary>More plain lines: a rejected handshake's headers and body, a TLS hint.</summary>
    public IReadOnlyList<string> Details { get; }

    /// <summary>Classifies an exception from a connect, a send or a lost connection; null for one that is not about the connection.</summary>
    public static ConnectFailure? From(Exception exception)
    {
        switch (exception)
        {
            case WebSocketHandshakeRejectedException rejected:
                var details = new List<string>();
                foreach (KeyValuePair<string, IReadOnlyList<string>> header in rejected.Headers.OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
                {
                    details.Add($"  {header.Key}: {SecretRedaction.HeaderValue(header.Key, string.Join(", ", header.Value))}");
                }

                string body = rejected.Body.Trim();
                details.Add(body.Length == 0 ? "  (no body)" : $"  body: {body}");
                if (rejected.RetryAfter is { } retryAfter)
                {
                    details.Add($"  the server asks to retry after {Input.Duration.Format(retryAfter)}");
                }

                return new ConnectFailure(
                    ExitCodes.HandshakeRejected,
                    $"handshake rejected: HTTP {rejected.StatusCode}{(rejected.ReasonPhrase is { Length: > 0 } phrase ? " " + phrase : "")}",
                    details);
            case WebSocketConnectException { Error: WebSocketConnectError.Tls } tls:
                return new ConnectFailure(
                    ExitCodes.Tls,
                    $"TLS failure{(tls.TlsFailure is { } kind ? $" ({kind})" : "")}: {tls.Message}",
                    ["  trust the server's CA with --ca <file.pem>, or skip the check for testing with --insecure"]);
            case WebSocketConnectException connect:
                return new ConnectFailure(ExitCodes.Network, $"connect failed ({connect.Error}): {connect.Message}", []);
            case WebSocketClosedException closed:
                return new ConnectFailure(ExitCodes.ConnectionLost, $"connection lost: {Describe(closed)}", []);
            case WebSocketProtocolException protocol:
                return new ConnectFailure(ExitCodes.ConnectionLost, $"protocol error (closed with {(int)protocol.CloseStatus}): {protocol.Message}", []);
            case ArgumentException argument:
                return new ConnectFailure(ExitCodes.Usage, argument.Message, []);
            default:
                return null;
        }
    }

    /// <summary>How a connection ended, in a few words.</summary>
    public static string Describe(WebSocketCloseStatus? status, string? description, Exception? exception)
    {
        if (status is { } code && code != (WebSocketCloseStatus)1006)
        {
            return $"closed with {(int)code}{(string.IsNullOrEmpty(description) ? "" : " " + description)}";
        }

        return exception switch
        {
            null => "closed without a code",
            WebSocketClosedException closed => Describe(closed),
            _ => exception.Message,
        };
    }

    private static string Describe(WebSocketClosedException closed)
    {
        if (closed.CloseStatus is { } code && code != (WebSocketCloseStatus)1006)
        {
            return $"{(closed.ClosedByPeer ? "the server" : "the client")} closed with {(int)code}{(string.IsNullOrEmpty(closed.CloseDescription) ? "" : " " + closed.CloseDescription)}";
        }

        return closed.InnerException is { } inner ? $"1006, no closing handshake ({inner.Message})" : $"1006, no closing handshake ({closed.Message})";
    }
}
