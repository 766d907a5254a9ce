namespace Duplex;

/// <summary>Why the server's certificate was refused in the TLS handshake of a <c>wss://</c> connect.</summary>
public enum WebSocketTlsFailure
{
    /// <summary>The TLS handshake failed for a reason other than the server certificate (protocol versions, ciphers, an alert from the server).</summary>
    Other = 0,

    /// <summary>The server sent no certificate.</summary>
    NoCertificate,

    /// <summary>The certificate's validity period ended.</summary>
    Expired,

    /// <summary>The certificate's validity period has not started yet (or the client's clock is wrong).</summary>
    NotYetValid,

    /// <summary>The certificate was revoked.</summary>
    Revoked,

    /// <summary>The certificate chain ends in a root that is not trusted (a self-signed or private-CA certificate; see <c>TrustedRootCertificates</c>).</summary>
    UntrustedRoot,

    /// <summary>The chain could not be built to a root: an intermediate certificate is missing.</summary>
    PartialChain,

    /// <summary>The certificate does not name the host connected to (see <c>TargetHost</c>).</summary>
    NameMismatch,

    /// <summary>Another error in the certificate chain (see <see cref="WebSocketConnectException.CertificateChainStatus"/>).</summary>
    InvalidChain,

    /// <summary>The application's <c>RemoteCertificateValidationCallback</c> refused the certificate.</summary>
    RejectedByCallback,
}
