namespace Duplex.Cli;

/// <summary>The process exit codes of every <c>duplex</c> command, documented in the README and in <c>--help</c>.</summary>
internal static class ExitCodes
{
    /// <summary>Done: the connection closed normally, the demo's every step passed, the benchmark finished.</summary>
    public const int Success = 0;

    /// <summary>Something else failed: a demo step, an input line that could not be sent, <c>--count</c> not reached in time.</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong: an unknown option, a bad value, a header the library refuses.</summary>
    public const int Usage = 2;

    /// <summary>The server answered the opening handshake with an HTTP status other than 101.</summary>
    public const int HandshakeRejected = 3;

    /// <summary>The connection could not be made or was lost: DNS, refused, timeout, proxy, a broken handshake.</summary>
    public const int Network = 4;

    /// <summary>TLS failed: an untrusted or invalid certificate, or the TLS handshake itself.</summary>
    public const int Tls = 5;

    /// <summary>The connection was lost and not reconnected (<c>--no-reconnect</c>, or the client gave up).</summary>
    public const int ConnectionLost = 6;

    /// <summary>Interrupted with Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    /// <summary>The exit codes as <c>--help</c> and the README list them.</summary>
    public const string Summary =
        "Exit codes: 0 normal close or success, 1 other failure, 2 usage error, 3 handshake rejected, " +
        "4 network failure, 5 TLS failure, 6 connection lost without reconnecting, 130 interrupted.";
}
