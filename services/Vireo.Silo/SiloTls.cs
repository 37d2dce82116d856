using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace Vireo.Silo;

/// <summary>
/// Mutual TLS for silo-to-silo and gateway connections (Silo:TlsCertificateFile). Each silo presents its certificate
/// and accepts a peer only when the peer's certificate chains to the cluster's authority (Silo:TlsCaFile), or to the
/// system's trust store when none is set. Silos reach each other by address, so host names are not compared.
/// </summary>
public static class SiloTls
{
    public static ISiloBuilder UseVireoTls(this ISiloBuilder orleans, SiloOptions silo)
    {
        var password = silo.TlsCertificatePasswordFile is { Length: > 0 } file ? File.ReadAllText(file).Trim() : null;
        var certificate = X509CertificateLoader.LoadPkcs12FromFile(silo.TlsCertificateFile!, password);
        var authority = silo.TlsCaFile is { Length: > 0 } ca ? X509CertificateLoader.LoadCertificateFromFile(ca) : null;
        var name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return orleans.UseTls(certificate, tls =>
        {
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.OnAuthenticateAsClient = (_, ssl) => ssl.TargetHost = name;
            tls.RemoteCertificateValidation = (remote, _, errors) => IsTrusted(remote, authority, errors);
        });
    }

    /// <summary>Whether a peer's certificate is one of the cluster's: it chains to the authority (name mismatches aside).</summary>
    public static bool IsTrusted(X509Certificate2 remote, X509Certificate2? authority, SslPolicyErrors errors)
    {
        if (authority is null)
            return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(remote);
    }
}
