using System.Net;
using System.Net.Sockets;

namespace Vireo.Media;

/// <summary>A URL source's host that may not be reached (this machine, a private network) or cannot be resolved.</summary>
public sealed class RefusedHostException(string reason) : IOException(reason);

/// <summary>
/// The connections over which URL sources are fetched, by the media silos that download them and the results API
/// that probes them before accepting them: every address a host resolves to is checked, and the socket connects to
/// those same addresses. Checking before the request and letting the handler resolve again would let a host that
/// changes its DNS answer in between (DNS rebinding) reach this machine or its private network.
/// </summary>
public static class UrlSourceConnections
{
    /// <summary>
    /// A handler whose connections go only where <see cref="ConnectAsync"/> allows: no redirects (each hop would be
    /// another host to check) and no proxy (the proxy would be the address connected to, leaving the host unchecked).
    /// </summary>
    public static SocketsHttpHandler Handler(bool allowPrivateHosts) => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = (context, token) => ConnectAsync(context.DnsEndPoint, allowPrivateHosts, token),
    };

    /// <summary>Resolves the host, refuses it if any of its addresses is local or private (unless allowed), and connects to those addresses.</summary>
    /// <exception cref="RefusedHostException">The host cannot be resolved, or is local or private.</exception>
    public static async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, bool allowPrivateHosts, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(endpoint.Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken);
        }
        catch (SocketException e)
        {
            throw new RefusedHostException($"the host {endpoint.Host} cannot be resolved: {e.Message}");
        }
        if (addresses.Length == 0)
            throw new RefusedHostException($"the host {endpoint.Host} has no addresses");
        if (!allowPrivateHosts && addresses.Any(IsPrivate))
            throw new RefusedHostException($"{endpoint.Host} is a local or private address; such URLs are refused");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    internal static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal)
            return true;
        if (address.AddressFamily != AddressFamily.InterNetwork)
            return address.Equals(IPAddress.IPv6Any);
        var b = address.GetAddressBytes();
        return b[0] is 10 or 127 or 0 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] is >= 64 and <= 127);
    }
}
