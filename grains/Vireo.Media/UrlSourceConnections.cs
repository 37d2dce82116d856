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

    /// <summary>
    /// Whether <paramref name="address"/> is loopback, private, link-local, shared (CGNAT), reserved or multicast, or an
    /// IPv6 address that carries such an IPv4 address (mapped, IPv4-compatible, NAT64, 6to4) or tunnels to one the
    /// filter cannot see (Teredo). A NAT64 gateway would otherwise take http://[64:ff9b::a00:1]/ to 10.0.0.1.
    /// </summary>
    internal static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal
            || address.IsIPv6Multicast)
            return true;
        var b = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0)
                return true; // :: , ::1 and the deprecated IPv4-compatible ::a.b.c.d
            if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
                return b[4] != 0 || b[5] != 0 || IsPrivate(new IPAddress(b[12..16])); // 64:ff9b:1::/48 is local NAT64
            if (b[0] == 0x20 && b[1] == 0x02)
                return IsPrivate(new IPAddress(b[2..6])); // 6to4
            return b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0; // Teredo
        }
        return b[0] is 0 or 10 or 127 || b[0] >= 224 // this network, private, loopback; multicast, reserved and broadcast
            || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] is >= 64 and <= 127) // shared address space (carrier-grade NAT)
            || (b[0] == 192 && b[1] == 0 && b[2] == 0) // IETF protocol assignments
            || (b[0] == 198 && b[1] is 18 or 19); // benchmarking
    }
}
