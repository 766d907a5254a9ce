using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Duplex.Tests.Infrastructure;

/// <summary>Creates self-signed TLS certificates for servers on the loopback interface, in memory only.</summary>
public static class LoopbackCertificate
{
    private const string ServerAuthenticationOid = "1.3.6.1.5.5.7.3.1";

    /// <summary>
    /// Creates a self-signed RSA 2048 certificate for <c>CN=localhost</c> with subject alternative names
    /// <c>127.0.0.1</c>, <c>::1</c> and <c>localhost</c>, valid from yesterday for 30 days, with its private key.
    /// It is its own issuer, so a client can trust it as a custom root.
    /// </summary>
    /// <remarks>
    /// The certificate is exported to PFX and loaded back, because on Linux a certificate whose key lives only in an
    /// ephemeral handle cannot be used by the TLS stack.
    /// </remarks>
    public static X509Certificate2 Create() => Create(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

    /// <summary>The same certificate, valid from <paramref name="notBefore"/> to <paramref name="notAfter"/> (e.g. expired, or not valid yet).</summary>
    public static X509Certificate2 Create(DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
            certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyCertSign,
            critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthenticationOid)], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));

        using var ephemeral = request.CreateSelfSigned(notBefore, notAfter);
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), password: null);
    }
}
