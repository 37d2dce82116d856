using System.Net.Sockets;
using System.Text;

namespace Vireo.Testing;

/// <summary>A plain HTTP/1.1 server for one request, for URL sources served from loopback.</summary>
public static class OneShotHttp
{
    /// <summary>Accepts one connection on <paramref name="listener"/>, reads its request head and answers 200 with <paramref name="body"/>.</summary>
    public static async Task ServeOnceAsync(TcpListener listener, string body)
    {
        using var client = await listener.AcceptTcpClientAsync();
        await using var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
        while (!string.IsNullOrEmpty(await reader.ReadLineAsync()))
        {
        }
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"));
    }
}
