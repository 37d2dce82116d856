using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace Vireo.Api.Tests;

/// <summary>
/// A JSON upload naming a URL, on an API where URLs are allowed: the start of what the URL serves is fetched and probed
/// by the media stage's ffprobe rules before the upload is accepted. The URLs are served by a listener on this machine,
/// so this API also allows private hosts (Pipeline:AllowPrivateUrlHosts), as a development stack would.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class UrlUploadTests(ApiCluster cluster)
{
    [Fact]
    public async Task AUrlIsProbedBeforeItIsAcceptedAndWhatIsNoVideoIsRefused()
    {
        var api = await cluster.StartApiAsync("api-urls", ("Pipeline__AllowUrls", "true"), ("Pipeline__AllowPrivateUrlHosts", "true"));
        var tenant = ApiCluster.NewTenant();
        using var client = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await cluster.CreateKeyAsync(tenant)).Secret);

        using var server = new FileServer(new Dictionary<string, byte[]>
        {
            ["/clip.mp4"] = await File.ReadAllBytesAsync(cluster.Clip),
            ["/notes.mp4"] = Encoding.UTF8.GetBytes("not a video, whatever the name says\n"),
            ["/playlist.m3u8"] = Encoding.UTF8.GetBytes("#EXTM3U\n#EXTINF:2,\nfile:///etc/passwd\n"),
        });
        Task<HttpResponseMessage> Upload(string path) =>
            client.PostAsync("/v1/videos", new StringContent(
                System.Text.Json.JsonSerializer.Serialize(new { url = server.Url + path, options = new { sampling = new { fps = 1 } } }), Encoding.UTF8, "application/json"));

        Assert.Contains("does not serve a video", await Http.AssertProblemAsync(await Upload("/notes.mp4"), HttpStatusCode.UnprocessableEntity));
        Assert.Contains("does not serve a video", await Http.AssertProblemAsync(await Upload("/playlist.m3u8"), HttpStatusCode.UnprocessableEntity));
        Assert.Contains("HTTP 404", await Http.AssertProblemAsync(await Upload("/missing.mp4"), HttpStatusCode.UnprocessableEntity));
        // Short as sent, too long as the upload event carries it: each é is escaped to six characters.
        Assert.Contains("at most 4096 characters, escaped", await Http.AssertProblemAsync(
            await Upload("/clip.mp4?n=" + new string('é', 1500)), HttpStatusCode.UnprocessableEntity));
        // Nothing of a refused URL stays: no row, no file.
        Assert.Equal(0L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
        Assert.False(Directory.Exists(Path.Combine(cluster.MediaRoot, "uploads", tenant)) && Directory.EnumerateFileSystemEntries(Path.Combine(cluster.MediaRoot, "uploads", tenant)).Any());

        using var accepted = await Upload("/clip.mp4");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var id = (await Http.JsonAsync(accepted)).GetProperty("id").GetString()!;
        // The upload event names the URL: the media silo downloads it and checks it whole.
        Assert.Equal($"{server.Url}/clip.mp4", await cluster.QueryAsync<string>("select source from videos where tenant_id = $1 and video_id = $2", tenant, id));
        Assert.Contains($"{tenant}/{id}", cluster.UploadEventKeys());
    }

    [Fact]
    public async Task ASourceTooSlowForTheWholeProbeWindowIsProbedOnWhatItSentInTime()
    {
        var api = await cluster.StartApiAsync("api-slow-urls", ("Pipeline__AllowUrls", "true"), ("Pipeline__AllowPrivateUrlHosts", "true"));
        var tenant = ApiCluster.NewTenant();
        using var client = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(120) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await cluster.CreateKeyAsync(tenant)).Secret);
        // An MP4 made for the web (its index first), of which the server sends half and then nothing more while the
        // connection stays open; another URL answers 200 and sends nothing at all.
        var clip = Path.Combine(cluster.ClipFolder, "faststart.mp4");
        await Vireo.Media.SyntheticClips.RunFfmpegAsync(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "4", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", clip]);
        var bytes = await File.ReadAllBytesAsync(clip);
        using var server = new StallingServer(bytes, new Dictionary<string, int> { ["/half.mp4"] = bytes.Length / 2, ["/nothing.mp4"] = 0 });
        Task<HttpResponseMessage> Upload(string path) =>
            client.PostAsync("/v1/videos", new StringContent(System.Text.Json.JsonSerializer.Serialize(new { url = server.Url + path }), Encoding.UTF8, "application/json"));

        // Refused before anything of it was stored, the tenant's first upload is answered as such.
        Assert.Contains("HTTP 404", await Http.AssertProblemAsync(await Upload("/missing.mp4"), HttpStatusCode.UnprocessableEntity));
        var (half, nothing) = (Upload("/half.mp4"), Upload("/nothing.mp4"));
        using var accepted = await half;
        Assert.True(HttpStatusCode.Accepted == accepted.StatusCode, await accepted.Content.ReadAsStringAsync());
        var id = (await Http.JsonAsync(accepted)).GetProperty("id").GetString()!;
        Assert.Contains($"{tenant}/{id}", cluster.UploadEventKeys());
        Assert.Contains("did not serve the start of its content", await Http.AssertProblemAsync(await nothing, HttpStatusCode.UnprocessableEntity));
        Assert.Equal(1L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
    }

    /// <summary>
    /// Serves one file over HTTP on a loopback port: each path announces the whole file, sends as many bytes of it as
    /// that path says at once, then nothing more until the client hangs up; other paths are 404.
    /// </summary>
    private sealed class StallingServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();

        public StallingServer(byte[] file, IReadOnlyDictionary<string, int> sentByPath)
        {
            _listener.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    TcpClient connection;
                    try
                    {
                        connection = await _listener.AcceptTcpClientAsync(_stop.Token);
                    }
                    catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                    {
                        return;
                    }
                    _ = ServeAsync(connection, file, sentByPath);
                }
            });
        }

        public string Url { get; }

        private async Task ServeAsync(TcpClient connection, byte[] file, IReadOnlyDictionary<string, int> sentByPath)
        {
            using (connection)
            {
                try
                {
                    var stream = connection.GetStream();
                    using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
                    var path = (await reader.ReadLineAsync(_stop.Token))?.Split(' ')[1] ?? "";
                    while (!string.IsNullOrEmpty(await reader.ReadLineAsync(_stop.Token)))
                    {
                    }
                    if (!sentByPath.TryGetValue(path, out var sent))
                    {
                        await stream.WriteAsync("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), _stop.Token);
                        return;
                    }
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {file.Length}\r\n\r\n"), _stop.Token);
                    await stream.WriteAsync(file.AsMemory(0, sent), _stop.Token);
                    await stream.FlushAsync(_stop.Token);
                    var buffer = new byte[1];
                    while (await stream.ReadAsync(buffer, _stop.Token) > 0)
                    {
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or IOException)
                {
                    // The prober hung up, or the test is over.
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }

    /// <summary>Serves fixed bodies over HTTP on a loopback port; anything else is 404.</summary>
    private sealed class FileServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Task _serving;

        public FileServer(IReadOnlyDictionary<string, byte[]> files)
        {
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                Url = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}";
            }
            _listener.Prefixes.Add(Url + "/");
            _listener.Start();
            _serving = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync();
                    }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                    {
                        return;
                    }
                    using var response = context.Response;
                    if (files.TryGetValue(context.Request.Url!.AbsolutePath, out var body))
                    {
                        response.ContentLength64 = body.Length;
                        try
                        {
                            await response.OutputStream.WriteAsync(body);
                        }
                        catch (HttpListenerException)
                        {
                            // The prober read what it needed and hung up.
                        }
                    }
                    else
                    {
                        response.StatusCode = 404;
                    }
                }
            });
        }

        public string Url { get; }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
