using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Vireo.Grains.Ingest;
using Vireo.Testing;

namespace Vireo.Grains.Tests;

public sealed class SourceResolverTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vireo-media-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("vireo-outside-").FullName;
    private readonly List<ServiceProvider> _providers = [];

    public SourceResolverTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "clips"));
        File.WriteAllText(Path.Combine(_root, "clips", "a.mp4"), "x");
        File.WriteAllText(Path.Combine(_outside, "secret.mp4"), "x");
        File.CreateSymbolicLink(Path.Combine(_root, "clips", "escape.mp4"), Path.Combine(_outside, "secret.mp4"));
    }

    private SourceResolver Resolver(bool allowUrls = false, bool allowPrivateHosts = false)
    {
        var services = new ServiceCollection()
            .AddSingleton(Options.Create(new PipelineOptions
            {
                MediaRoot = _root,
                AllowUrls = allowUrls,
                AllowPrivateUrlHosts = allowPrivateHosts,
                DownloadFolder = Path.Combine(_root, "downloads"),
            }))
            .AddSourceResolver()
            .BuildServiceProvider();
        _providers.Add(services);
        return services.GetRequiredService<SourceResolver>();
    }

    [Fact]
    public void TheDecoderReadsTheFileThatWasCheckedEvenWhenThePathIsSwappedAfterwards()
    {
        var resolver = Resolver();
        var file = Path.Combine(_root, "clips", "swap.mp4");
        File.WriteAllText(file, "the checked video");
        var checkedPath = Assert.IsType<CheckedSource.LocalFile>(resolver.Check("clips/swap.mp4")).Path;

        using (var opened = resolver.Open(checkedPath))
        {
            // Swapped for a link to a file outside the root once it was opened: the open name still reads the original.
            File.Move(file, file + ".old");
            File.CreateSymbolicLink(file, Path.Combine(_outside, "secret.mp4"));
            Assert.StartsWith("/proc/", opened.Path);
            Assert.Equal("the checked video", File.ReadAllText(opened.Path));
        }

        // Swapped between the check and the open: the open file itself is found outside the root.
        var error = Assert.Throws<SourceRejectedException>(() => resolver.Open(checkedPath));
        Assert.Contains("moved outside", error.Message);
    }

    [Fact]
    public async Task ANamedPipeUnderTheRootIsRefusedAtOnceInsteadOfBlockingTheOpen()
    {
        var pipe = Path.Combine(_root, "clips", "pipe.mp4");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", pipe))
            await mkfifo.WaitForExitAsync();
        var resolver = Resolver();
        var checkedPath = Assert.IsType<CheckedSource.LocalFile>(resolver.Check("clips/pipe.mp4")).Path;

        // Opening a pipe for reading waits for a writer that never comes; the ingest path must not.
        var open = Task.Run(() => resolver.Open(checkedPath));
        var finished = await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(10)));

        Assert.Same(open, finished);
        var error = await Assert.ThrowsAsync<SourceRejectedException>(() => open);
        Assert.Contains("not a regular file", error.Message);
    }

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
    public void AFolderLinkLeavingTheRootIsRefused()
    {
        Directory.CreateDirectory(Path.Combine(_root, "t"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "t", "dirlink"), _outside);

        var error = Assert.Throws<SourceRejectedException>(() => Resolver().Check("t/dirlink/secret.mp4"));

        Assert.Contains("links outside the media root", error.Message);
        Assert.Throws<SourceRejectedException>(() => Resolver().Check(Path.Combine(_root, "t", "dirlink", "secret.mp4")));
    }

    [Fact]
    public void DotDotAfterALinkClimbsFromTheLinkTargetAndCannotLeaveTheRoot()
    {
        // Read as text, t/out/../secret.mp4 is t/secret.mp4, which exists; the kernel reads outside/secret.mp4.
        Directory.CreateDirectory(Path.Combine(_root, "t"));
        File.WriteAllText(Path.Combine(_root, "t", "secret.mp4"), "x");
        Directory.CreateDirectory(Path.Combine(_outside, "sub"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "t", "out"), Path.Combine(_outside, "sub"));

        var error = Assert.Throws<SourceRejectedException>(() => Resolver().Check("t/out/../secret.mp4"));

        Assert.Contains("links outside the media root", error.Message);
    }

    [Fact]
    public void DotDotAfterALinkInsideTheRootNamesTheFileTheKernelWouldOpen()
    {
        Directory.CreateDirectory(Path.Combine(_root, "a", "b", "c"));
        File.WriteAllText(Path.Combine(_root, "a", "x.mp4"), "x");
        Directory.CreateDirectory(Path.Combine(_root, "t"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "t", "deep"), "../a/b/c");

        var source = Assert.IsType<CheckedSource.LocalFile>(Resolver().Check("t/deep/../../x.mp4"));

        Assert.Equal(Path.Combine(_root, "a", "x.mp4"), source.Path);
    }

    [Fact]
    public void LinksThatStayInsideTheRootAreFollowedToTheRealFile()
    {
        Directory.CreateSymbolicLink(Path.Combine(_root, "alias"), "clips");
        File.CreateSymbolicLink(Path.Combine(_root, "clips", "b.mp4"), "a.mp4");

        var source = Assert.IsType<CheckedSource.LocalFile>(Resolver().Check("alias/b.mp4"));

        Assert.Equal(Path.Combine(_root, "clips", "a.mp4"), source.Path);
        // The grain checks the path the ingest consumer resolved a second time.
        Assert.IsType<CheckedSource.LocalFile>(Resolver().Check(source.Path));
    }

    [Fact]
    public void ALinkLoopIsRefused()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "loop1"), "loop2");
        File.CreateSymbolicLink(Path.Combine(_root, "loop2"), "loop1");

        Assert.Throws<SourceRejectedException>(() => Resolver().Check("loop1"));
    }

    [Fact]
    public void AFolderIsNotAVideoFile() =>
        Assert.Contains("directory", Assert.Throws<SourceRejectedException>(() => Resolver().Check("clips")).Message);

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
    [InlineData("http://[64:ff9b::a00:1]/v.mp4")]
    [InlineData("http://[64:ff9b:1::1]/v.mp4")]
    [InlineData("http://[2002:a00:1::1]/v.mp4")]
    [InlineData("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/v.mp4")]
    [InlineData("http://[::a00:1]/v.mp4")]
    [InlineData("http://[::ffff:169.254.169.254]/latest/meta-data")]
    [InlineData("http://[ff02::1]/v.mp4")]
    [InlineData("http://192.0.0.170/v.mp4")]
    [InlineData("http://198.18.0.1/v.mp4")]
    [InlineData("http://240.0.0.1/v.mp4")]
    [InlineData("http://224.0.0.1/v.mp4")]
    [InlineData("http://100.100.100.200/latest/meta-data")]
    public async Task DownloadsFromLocalOrPrivateHostsAreRefused(string url)
    {
        var error = await Assert.ThrowsAsync<SourceRejectedException>(() => Resolver(allowUrls: true).DownloadAsync(new Uri(url), new VideoKey("t", "v1"), CancellationToken.None));
        Assert.Contains("local or private", error.Message);
    }

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("2606:2800:220:1:248:1893:25c8:1946")]
    [InlineData("64:ff9b::5db8:d822")]
    [InlineData("2002:5db8:d822::1")]
    [InlineData("::ffff:93.184.216.34")]
    public void PublicAddressesAndTheIpv6FormsOfPublicIpv4OnesAreNotPrivate(string address) =>
        Assert.False(Vireo.Media.UrlSourceConnections.IsPrivate(IPAddress.Parse(address)));

    [Fact]
    public async Task AHostNameResolvingToLoopbackIsRefusedWhenConnectingAndNothingReachesIt()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<SourceRejectedException>(() =>
            Resolver(allowUrls: true).DownloadAsync(new Uri($"http://localhost:{port}/v.mp4"), new VideoKey("t", "v1"), CancellationToken.None));

        Assert.Contains("local or private", error.Message);
        Assert.False(listener.Pending(), "a connection reached the loopback listener");
    }

    [Fact]
    public async Task WithPrivateHostsAllowedTheDownloadConnectsToTheAddressItResolvedAndKeepsTheFilePrivate()
    {
        using var server = new OneShotHttp("not really a video");

        var path = await Resolver(allowUrls: true, allowPrivateHosts: true).DownloadAsync(new Uri($"http://localhost:{server.Port}/v.mp4"), new VideoKey("t", "v2"), CancellationToken.None);

        await server.Served;
        Assert.Equal("not really a video", await File.ReadAllTextAsync(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        }
    }

    public void Dispose()
    {
        foreach (var provider in _providers)
            provider.Dispose();
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }
}
