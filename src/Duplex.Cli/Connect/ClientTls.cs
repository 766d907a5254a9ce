using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Duplex.Handshake;

namespace Duplex.Cli.Connect;

/// <summary>The TLS settings of <c>--insecure</c>, <c>--ca</c>, <c>--cert</c> and <c>--key</c> (PEM files).</summary>
internal static class ClientTls
{
    /// <summary>Builds the settings; a file that cannot be read or parsed throws <see cref="ArgumentException"/> naming the option.</summary>
    public static WebSocketTlsOptions Create(ConnectSettings settings)
    {
        var tls = new WebSocketTlsOptions { AcceptAnyCertificate = settings.Insecure };
        if (settings.CaFile is { } ca)
        {
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(ca.FullName);
            }
            catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"--ca {ca.Name}: {ex.Message}", ex);
            }

            if (roots.Count == 0)
            {
                throw new ArgumentException($"--ca {ca.Name}: no PEM certificate in the file.");
            }

            tls.TrustedRootCertificates = roots;
        }

        if (settings.CertificateFile is { } certificate)
        {
            try
            {
                using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificate.FullName, settings.KeyFile?.FullName);

                // Through PKCS#12 so that the TLS stack can use the key on every platform.
                X509Certificate2 usable = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
                tls.ClientCertificates = new X509CertificateCollection { usable };
            }
            catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"--cert {certificate.Name}{(settings.KeyFile is null ? "" : $" --key {settings.KeyFile.Name}")}: {ex.Message}", ex);
            }
        }

        return tls;
    }
}
