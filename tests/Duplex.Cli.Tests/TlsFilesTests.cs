using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary>The PEM files of <c>--ca</c>, <c>--cert</c> and <c>--key</c>: read when valid, a usage error when not.</summary>
public sealed class TlsFilesTests
{
    [Fact]
    public async Task Connect_ClientCertificateAndKeyInPem_AreLoadedAndTheConnectionWorks()
    {
        string directory = Directory.CreateTempSubdirectory("duplex-pem-").FullName;
        try
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=duplex-test-client", key, HashAlgorithmName.SHA256);
            using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            string certificateFile = Path.Combine(directory, "client.pem");
            string keyFile = Path.Combine(directory, "client-key.pem");
            await File.WriteAllTextAsync(certificateFile, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());

            await using ServeProcess serve = await ServeProcess.StartAsync("--tls");
            await using CliProcess connect = CliProcess.StartTool("connect", serve.Url, "--insecure", "--cert", certificateFile, "--key", keyFile, "-1");
            await connect.WriteLinesAsync("with a client certificate");
            connect.CloseInput();

            Assert.True(await connect.WaitForExitAsync() == 0, connect.AllText);
            Assert.Contains("< with a client certificate", connect.Output, StringComparison.Ordinal);
            Assert.Contains("--insecure: the server's certificate is not checked", connect.AllText, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("--ca")]
    [InlineData("--cert")]
    public async Task Connect_FileThatIsNotPem_IsAUsageError(string option)
    {
        string file = Path.Combine(Path.GetTempPath(), $"duplex-not-pem-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(file, "this is not a certificate\n");
        try
        {
            await using CliProcess connect = CliProcess.StartTool("connect", "wss://127.0.0.1:1/", option, file);
            connect.CloseInput();
            Assert.Equal(2, await connect.WaitForExitAsync());
            Assert.Contains(option + " ", connect.AllText, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Connect_MissingCaFile_IsAUsageError()
    {
        await using CliProcess connect = CliProcess.StartTool("connect", "wss://127.0.0.1:1/", "--ca", "/no/such/ca.pem");
        Assert.Equal(2, await connect.WaitForExitAsync());
        Assert.Contains("does not exist", connect.AllText, StringComparison.Ordinal);
    }
}
