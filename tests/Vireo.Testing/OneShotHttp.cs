using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vireo.Testing;

/// <summary>A plain HTTP/1.1 server on loopback for one request, for URL sources: it answers 200 with a fixed body.</summary>
public sealed class OneShotHttp : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public OneShotHttp(string body)
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        Served = ServeAsync(body);
    }

    public int Port { get; }

    /// <summary>Completes once the one request has been answered.</summary>
    public Task Served { get; }

    private async Task ServeAsync(string body)
    {
        using var client = await _listener.AcceptTcpClientAsync();
        await using var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
        while (!string.IsNullOrEmpty(await reader.ReadLineAsync()))
        {
        }
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"));
    }

    public void Dispose() => _listener.Stop();
}
