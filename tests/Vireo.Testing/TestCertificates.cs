using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vireo.Testing;

/// <summary>A certificate authority made for one test, and certificates it signs, written as PEM and PKCS#12 files.</summary>
public sealed class TestCertificates : IDisposable
{
    private readonly X509Certificate2 _authority;

    public TestCertificates(string name)
    {
        Folder = Directory.CreateTempSubdirectory("vireo-certs-").FullName;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2));
        AuthorityFile = Path.Combine(Folder, "ca.pem");
        File.WriteAllText(AuthorityFile, _authority.ExportCertificatePem());
    }

    public string Folder { get; }

    /// <summary>The authority's certificate, PEM.</summary>
    public string AuthorityFile { get; }

    public X509Certificate2 Authority => _authority;

    /// <summary>A certificate for <paramref name="name"/> signed by the authority, with its key, as a PKCS#12 file.</summary>
    public (X509Certificate2 Certificate, string Pkcs12File) Issue(string name, string password)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var serial = RandomNumberGenerator.GetBytes(12);
        using var signed = request.Create(_authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);
        var withKey = signed.CopyWithPrivateKey(key);
        var file = Path.Combine(Folder, name + ".pfx");
        File.WriteAllBytes(file, withKey.Export(X509ContentType.Pkcs12, password));
        return (withKey, file);
    }

    public void Dispose()
    {
        _authority.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
