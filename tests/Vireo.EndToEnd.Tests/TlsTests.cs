using Vireo.Testing;

namespace Vireo.EndToEnd.Tests;

/// <summary>Two silos whose connections to each other use mutual TLS with certificates of the cluster's own authority.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TestCertificates _certificates = new("vireo-e2e-ca");
    private PipelineCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var password = Path.Combine(_certificates.Folder, "password");
        await File.WriteAllTextAsync(password, "e2e-pw\n");
        // One certificate for both silos keeps the settings the same for every process of the cluster.
        var (_, pkcs12) = _certificates.Issue("vireo-silo", "e2e-pw");
        _cluster = await PipelineCluster.StartAsync([("media", "media"), ("gpu", "vision,language")],
            ("Silo__TlsCertificateFile", pkcs12), ("Silo__TlsCertificatePasswordFile", password), ("Silo__TlsCaFile", _certificates.AuthorityFile));
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
            await _cluster.DisposeAsync();
        _certificates.Dispose();
    }

    [Fact]
    public async Task AVideoCrossesSilosThatTalkOverMutualTls()
    {
        var path = await Clips.MakeAsync("tls.mp4", 2);
        await _cluster.UploadAsync("video-tls", _cluster.AddMedia(path));
        Assert.Equal("completed", await _cluster.WaitFinishedAsync("video-tls", TimeSpan.FromMinutes(3)));
        Assert.Equal(await Clips.SampledIndexesAsync(path, 2),
            await _cluster.ListAsync<int>("select frame_index from frames where video_id = $1 order by frame_index", "video-tls"));
        Assert.Equal(["gpu"], await _cluster.ListAsync<string>("select distinct vision_silo from frames where video_id = $1", "video-tls"));
    }
}
