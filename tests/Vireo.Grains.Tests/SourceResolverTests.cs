using Microsoft.Extensions.Options;
using Vireo.Grains.Ingest;

namespace Vireo.Grains.Tests;

public sealed class SourceResolverTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vireo-media-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("vireo-outside-").FullName;

    public SourceResolverTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "clips"));
        File.WriteAllText(Path.Combine(_root, "clips", "a.mp4"), "x");
        File.WriteAllText(Path.Combine(_outside, "secret.mp4"), "x");
        File.CreateSymbolicLink(Path.Combine(_root, "clips", "escape.mp4"), Path.Combine(_outside, "secret.mp4"));
    }

    private SourceResolver Resolver(bool allowUrls = false) => new(Options.Create(new PipelineOptions
    {
        MediaRoot = _root,
        AllowUrls = allowUrls,
        DownloadFolder = Path.Combine(_root, "downloads"),
    }));

    [Fact]
    public void AcceptsAFileUnderTheMediaRoot()
    {
        var source = Assert.IsType<CheckedSource.LocalFile>(Resolver().Check("clips/a.mp4"));
        Assert.Equal(Path.Combine(_root, "clips", "a.mp4"), source.Path);
        Assert.IsType<CheckedSource.LocalFile>(Resolver().Check(Path.Combine(_root, "clips", "a.mp4")));
    }

    [Theory]
    [InlineData("../secret.mp4", "outside the media root")]
    [InlineData("clips/../../etc/passwd", "outside the media root")]
    [InlineData("/etc/passwd", "outside the media root")]
    [InlineData("clips/escape.mp4", "links outside the media root")]
    [InlineData("clips/missing.mp4", "does not exist")]
    [InlineData("clips/a.mp4\0.txt", "NUL")]
    [InlineData("", "empty")]
    [InlineData("http://example.com/v.mp4", "URL sources are turned off")]
    [InlineData("file:///etc/passwd", "scheme 'file' is not supported")]
    [InlineData("ftp://example.com/v.mp4", "scheme 'ftp' is not supported")]
    public void RefusesHostileOrMissingSources(string source, string reason)
    {
        var error = Assert.Throws<SourceRejectedException>(() => Resolver().Check(source));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void UrlsWithCredentialsAreRefusedEvenWhenUrlsAreOn()
    {
        var error = Assert.Throws<SourceRejectedException>(() => Resolver(allowUrls: true).Check("https://user:pw@example.com/v.mp4"));
        Assert.Contains("credentials", error.Message);
        Assert.IsType<CheckedSource.Url>(Resolver(allowUrls: true).Check("https://example.com/v.mp4"));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/v.mp4")]
    [InlineData("http://10.1.2.3/v.mp4")]
    [InlineData("http://192.168.0.10/v.mp4")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://[::1]/v.mp4")]
    [InlineData("http://localhost/v.mp4")]
    public async Task DownloadsFromLocalOrPrivateHostsAreRefused(string url)
    {
        var error = await Assert.ThrowsAsync<SourceRejectedException>(() => Resolver(allowUrls: true).DownloadAsync(new Uri(url), "v1", CancellationToken.None));
        Assert.Contains("local or private", error.Message);
    }

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }
}
