using System.Globalization;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Duplex.Handshake.Transports;

/// <summary>
/// Thrown from inside certificate validation when a server certificate is refused, so that the reason
/// travels with the failure to where the connect error is classified — through <see cref="SslStream"/>
/// and through <c>SocketsHttpHandler</c>, whose handlers are shared by many connects and cannot keep
/// per-connect state. Never escapes the handshake layer: it ends up as the inner exception of a
/// <see cref="WebSocketConnectException"/> that names the reason.
/// </summary>
internal sealed class CertificateRefusal : AuthenticationException
{
    // The default decision: accept exactly when nothing is wrong.
    private static readonly RemoteCertificateValidationCallback s_defaultValidation = static (_, certificate, chain, errors) =>
        errors == SslPolicyErrors.None ? true : throw Create(certificate, chain, errors, byCallback: false, DateTime.UtcNow);

    private CertificateRefusal(WebSocketTlsFailure reason, SslPolicyErrors errors, X509ChainStatusFlags chainStatus, string description)
        : base("The server certificate was refused: " + description + ".")
    {
        Reason = reason;
        Errors = errors;
        ChainStatus = chainStatus;
        Description = description;
    }

    /// <summary>The main reason.</summary>
    public WebSocketTlsFailure Reason { get; }

    /// <summary>What the default validation found.</summary>
    public SslPolicyErrors Errors { get; }

    /// <summary>The chain's problems, all elements together.</summary>
    public X509ChainStatusFlags ChainStatus { get; }

    /// <summary>What was wrong, as part of a sentence ("it has expired").</summary>
    public string Description { get; }

    /// <summary>
    /// The validation callback to install: the default decision (accept exactly when nothing is wrong),
    /// or <paramref name="decide"/>'s when given; a refusal throws a <see cref="CertificateRefusal"/>.
    /// </summary>
    public static RemoteCertificateValidationCallback Validate(RemoteCertificateValidationCallback? decide) =>
        decide is null
            ? s_defaultValidation
            : (sender, certificate, chain, errors) =>
                decide(sender, certificate, chain, errors) ? true : throw Create(certificate, chain, errors, byCallback: true, DateTime.UtcNow);

    /// <summary>Works out why a certificate was refused.</summary>
    internal static CertificateRefusal Create(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, bool byCallback, DateTime now)
    {
        X509ChainStatusFlags status = X509ChainStatusFlags.NoError;
        if (chain is not null)
        {
            foreach (X509ChainStatus element in chain.ChainStatus)
            {
                status |= element.Status;
            }
        }

        var problems = new List<(WebSocketTlsFailure Reason, string Text)>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            problems.Add((WebSocketTlsFailure.NoCertificate, "the server sent no certificate"));
        }

        if (status.HasFlag(X509ChainStatusFlags.NotTimeValid))
        {
            bool early = certificate is X509Certificate2 leaf && leaf.NotBefore.ToUniversalTime() > now;
            problems.Add(early
                ? (WebSocketTlsFailure.NotYetValid, string.Create(CultureInfo.InvariantCulture, $"it is not valid before {((X509Certificate2)certificate!).NotBefore.ToUniversalTime():u}"))
                : (WebSocketTlsFailure.Expired, certificate is X509Certificate2 expired
                    ? string.Create(CultureInfo.InvariantCulture, $"it expired at {expired.NotAfter.ToUniversalTime():u}")
                    : "it (or a certificate in its chain) has expired"));
        }

        if (status.HasFlag(X509ChainStatusFlags.Revoked))
        {
            problems.Add((WebSocketTlsFailure.Revoked, "it was revoked"));
        }

        if (status.HasFlag(X509ChainStatusFlags.UntrustedRoot))
        {
            problems.Add((WebSocketTlsFailure.UntrustedRoot, "its chain ends in a root that is not trusted"));
        }

        if (status.HasFlag(X509ChainStatusFlags.PartialChain))
        {
            problems.Add((WebSocketTlsFailure.PartialChain, "its chain could not be built to a root (an intermediate certificate is missing)"));
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            problems.Add((WebSocketTlsFailure.NameMismatch, "it does not name the host"));
        }

        if (problems.Count == 0 && errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            problems.Add((WebSocketTlsFailure.InvalidChain, $"its chain is invalid ({status})"));
        }

        string found = string.Join(", and ", problems.Select(p => p.Text));
        if (byCallback)
        {
            string description = problems.Count == 0
                ? "the application's validation callback refused it"
                : "the application's validation callback refused it (" + found + ")";
            return new CertificateRefusal(WebSocketTlsFailure.RejectedByCallback, errors, status, description);
        }

        return problems.Count == 0
            ? new CertificateRefusal(WebSocketTlsFailure.InvalidChain, errors, status, $"validation failed ({errors})")
            : new CertificateRefusal(problems[0].Reason, errors, status, found);
    }
}
