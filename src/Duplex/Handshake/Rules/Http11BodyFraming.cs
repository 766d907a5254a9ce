namespace Duplex.Handshake.Rules;

/// <summary>How an HTTP/1.1 response head frames its body (RFC 9112 §6).</summary>
internal enum Http11BodyFraming
{
    /// <summary>No body, or one that cannot be framed (read as empty).</summary>
    None,

    /// <summary><c>Content-Length</c> bytes.</summary>
    ContentLength,

    /// <summary><c>Transfer-Encoding: chunked</c> (RFC 9112 §7.1).</summary>
    Chunked,

    /// <summary>Until the server closes the connection.</summary>
    UntilClose,
}
