using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Duplex.Handshake.Transports;

namespace Duplex.Handshake;

/// <summary>
/// How a <c>wss://</c> connection authenticates the server and, optionally, itself. Certificate
/// validation is on by default and uses the operating system's trust store.
/// </summary>
/// <remarks>
/// <para>
/// The ways to trust a server whose certificate the operating system does not trust, from the
/// safest to the least safe: <see cref="TrustedRootCertificates"/> (a private CA, checked with the
/// full chain and host-name rules), <see cref="RemoteCertificateValidationCallback"/> (your own
/// decision, for example certificate pinning), and <see cref="AcceptAnyCertificate"/> (no check at
/// all; for local development only, and a warning is logged at every connect).
/// </para>
/// <para>
/// The options are read when a connection is opened; changing them afterwards affects only later
/// connections. Instances are not thread-safe for writing.
/// </para>
/// </remarks>
public sealed class WebSocketTlsOptions
{
    /// <summary>
    /// Client certificates offered to a server that asks for one (mutual TLS). Each certificate used
    /// for authentication must have its private key. <see langword="null"/> (the default) offers none.
    /// </summary>
    public X509CertificateCollection? ClientCertificates { get; set; }

    /// <summary>
    /// Root certificates to trust <em>instead of</em> the operating system's trust store, for servers
    /// whose certificates are issued by a private CA. The chain is built with
    /// <see cref="X509ChainTrustMode.CustomRootTrust"/> and the host name is still checked.
    /// <see langword="null"/> or empty (the default) uses the system store.
    /// </summary>
    public X509Certificate2Collection? TrustedRootCertificates { get; set; }

    /// <summary>
    /// Decides whether the server certificate is accepted. It receives the errors that the default
    /// validation found (including those against <see cref="TrustedRootCertificates"/> when set) and
    /// its answer is final. <see langword="null"/> (the default) accepts a certificate exactly when
    /// there are no errors.
    /// </summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidationCallback { get; set; }

    /// <summary>
    /// Turns certificate validation off: any server certificate is accepted, so anyone on the network
    /// path can read and change the traffic. Meant for local development against self-signed
    /// certificates; a warning is logged at every connect while it is on. Defaults to
    /// <see langword="false"/>.
    /// </summary>
    public bool AcceptAnyCertificate { get; set; }

    /// <summary>
    /// The TLS versions allowed. <see cref="SslProtocols.None"/> (the default) lets the operating
    /// system choose, which is what you want unless a policy says otherwise.
    /// </summary>
    public SslProtocols EnabledProtocols { get; set; } = SslProtocols.None;

    /// <summary>
    /// Whether the revocation status of the server certificate chain is checked.
    /// Defaults to <see cref="X509RevocationMode.NoCheck"/>, like <see cref="System.Net.Http.SocketsHttpHandler"/>.
    /// </summary>
    public X509RevocationMode CertificateRevocationCheckMode { get; set; } = X509RevocationMode.NoCheck;

    /// <summary>
    /// The server name sent in the TLS handshake (SNI) and checked against the certificate, when it
    /// must differ from the host in the URI (for example when connecting to an IP address).
    /// <see langword="null"/> (the default) uses the URI's host.
    /// </summary>
    public string? TargetHost { get; set; }

    /// <summary>Whether every property still has its default value.</summary>
    internal bool IsDefault =>
        ClientCertificates is not { Count: > 0 } &&
        TrustedRootCertificates is not { Count: > 0 } &&
        RemoteCertificateValidationCallback is null &&
        !AcceptAnyCertificate &&
        EnabledProtocols == SslProtocols.None &&
        CertificateRevocationCheckMode == X509RevocationMode.NoCheck &&
        TargetHost is null;

    /// <summary>A snapshot: later changes to this instance or its collections do not affect the copy.</summary>
    internal WebSocketTlsOptions Clone() => new()
    {
        ClientCertificates = ClientCertificates is { Count: > 0 } ? new X509CertificateCollection(ClientCertificates) : null,
        TrustedRootCertificates = TrustedRootCertificates is { Count: > 0 } ? new X509Certificate2Collection(TrustedRootCertificates) : null,
        RemoteCertificateValidationCallback = RemoteCertificateValidationCallback,
        AcceptAnyCertificate = AcceptAnyCertificate,
        EnabledProtocols = EnabledProtocols,
        CertificateRevocationCheckMode = CertificateRevocationCheckMode,
        TargetHost = TargetHost,
    };

    /// <summary>
    /// The trusted roots as a value (their sorted SHA-256 thumbprints, comma-separated), so that
    /// options naming the same roots share what is built from them; empty when none are set.
    /// </summary>
    internal string TrustedRootsKey
    {
        get
        {
            if (TrustedRootCertificates is not { Count: > 0 } roots)
            {
                return string.Empty;
            }

            var thumbprints = new List<string>(roots.Count);
            foreach (X509Certificate2 root in roots)
            {
                thumbprints.Add(root.GetCertHashString(HashAlgorithmName.SHA256));
            }

            thumbprints.Sort(StringComparer.Ordinal);
            return string.Join(',', thumbprints);
        }
    }

    /// <summary>
    /// The chain policy that trusts <see cref="TrustedRootCertificates"/> only, or
    /// <see langword="null"/> when none are set (the system store is used). It holds its own copies
    /// of the certificates (public part only): the caller may dispose theirs, and the policy may be
    /// shared by many connections.
    /// </summary>
    internal X509ChainPolicy? CreateChainPolicy()
    {
        if (TrustedRootCertificates is not { Count: > 0 } roots)
        {
            return null;
        }

        // The chain is built against these roots only; SslStream still checks the host name and
        // reports any failure as policy errors, which the callback (if any) sees.
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = CertificateRevocationCheckMode,
        };
        foreach (X509Certificate2 root in roots)
        {
            policy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(root.RawDataMemory.Span));
        }

        return policy;
    }

    /// <summary>
    /// Sets what these options decide on <paramref name="ssl"/>: protocols, revocation, client
    /// certificates, trust and the validation callback. SocketsHttpHandler's TLS options and the
    /// socket transport's <see cref="SslStream"/> are configured by this one method, so both
    /// authenticate servers the same way. The target host and ALPN are the caller's.
    /// </summary>
    /// <param name="ssl">The options to configure.</param>
    /// <param name="chainPolicy">The result of <see cref="CreateChainPolicy"/>, possibly shared.</param>
    internal void ApplyTo(SslClientAuthenticationOptions ssl, X509ChainPolicy? chainPolicy)
    {
        ssl.EnabledSslProtocols = EnabledProtocols;
        ssl.CertificateRevocationCheckMode = CertificateRevocationCheckMode;
        if (ClientCertificates is { Count: > 0 })
        {
            ssl.ClientCertificates = new X509CertificateCollection(ClientCertificates);
        }

        ssl.CertificateChainPolicy = chainPolicy;

        // Unless validation is off, the decision is the default one or the application's, made in a
        // callback of ours so that a refusal carries its reason (name mismatch, expired, untrusted root…).
        ssl.RemoteCertificateValidationCallback = AcceptAnyCertificate
            ? static (_, _, _, _) => true
            : CertificateRefusal.Validate(RemoteCertificateValidationCallback);
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid property.</summary>
    internal void Validate()
    {
        if (!Enum.IsDefined(CertificateRevocationCheckMode))
        {
            throw new ArgumentException($"{nameof(WebSocketHandshakeOptions.Tls)}.{nameof(CertificateRevocationCheckMode)} is not a defined value.", nameof(CertificateRevocationCheckMode));
        }

        if (TargetHost is not null && (TargetHost.Length == 0 || TargetHost.AsSpan().IndexOfAny("\r\n\0 /") >= 0))
        {
            throw new ArgumentException($"{nameof(WebSocketHandshakeOptions.Tls)}.{nameof(TargetHost)} must be a host name.", nameof(TargetHost));
        }

        if (ClientCertificates is not null)
        {
            foreach (X509Certificate? certificate in ClientCertificates)
            {
                if (certificate is null)
                {
                    throw new ArgumentException($"{nameof(WebSocketHandshakeOptions.Tls)}.{nameof(ClientCertificates)} must not contain null.", nameof(ClientCertificates));
                }
            }
        }
    }
}
