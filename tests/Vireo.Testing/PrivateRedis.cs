using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Vireo.Testing;

/// <summary>
/// A Redis server of one test's own, in a temporary folder on a free port, configured as the local stack's (append-only
/// file, fsync every second), for tests that kill and restart it without disturbing the shared stack.
/// </summary>
public sealed class PrivateRedis : IAsyncDisposable
{
    private readonly string _folder;
    private readonly string _password = Guid.NewGuid().ToString("N");
    private Process? _server;

    private PrivateRedis(string folder, int port)
    {
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port},password={_password},abortConnect=false,connectTimeout=2000,syncTimeout=3000";

    public static async Task<PrivateRedis> StartAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "vireo-redis-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(folder);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var server = new PrivateRedis(folder, port);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Kills the server at once (SIGKILL), as a crash would: writes of the last second may be lost.</summary>
    public void Kill()
    {
        _server?.Kill();
        _server?.WaitForExit();
    }

    public async Task StartAgainAsync()
    {
        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _folder, "--requirepass", _password,
                     "--appendonly", "yes", "--save", "", "--logfile", Path.Combine(_folder, "redis.log") })
            start.ArgumentList.Add(a);
        _server = Process.Start(start)!;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(20) && !_server.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        _server?.Dispose();
        await Task.Run(() => Directory.Delete(_folder, recursive: true));
    }
}
