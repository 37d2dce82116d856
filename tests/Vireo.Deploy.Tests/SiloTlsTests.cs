using System.Net.Security;
using Vireo.Silo;
using Vireo.Testing;

namespace Vireo.Deploy.Tests;

public sealed class SiloTlsTests
{
    [Fact]
    public void APeerIsTrustedOnlyWithACertificateOfTheClustersAuthority()
    {
        using var cluster = new TestCertificates("vireo-cluster-ca");
        using var other = new TestCertificates("someone-else-ca");
        var (silo, _) = cluster.Issue("silo-a", "pw");
        var (stranger, _) = other.Issue("silo-x", "pw");

        Assert.True(SiloTls.IsTrusted(silo, cluster.Authority, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(SiloTls.IsTrusted(stranger, cluster.Authority, SslPolicyErrors.RemoteCertificateChainErrors));
        // Without an authority of its own the system decides; only a name mismatch (silos connect by address) is forgiven.
        Assert.True(SiloTls.IsTrusted(silo, null, SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.False(SiloTls.IsTrusted(silo, null, SslPolicyErrors.RemoteCertificateChainErrors));
    }
}
