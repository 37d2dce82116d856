using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Vireo.ServiceDefaults;

/// <summary>
/// Writes the URL the HTTP server listens on to a file once it listens, so that a script that started the process
/// with port 0 can find its health endpoints. The file is replaced whole, never seen half written.
/// </summary>
internal sealed class UrlFileWriter(IServiceProvider services, IHostApplicationLifetime lifetime, ILogger<UrlFileWriter> logger, string path) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(Write);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Write()
    {
        // A generic host (a test's in-process host, say) has no server and nothing to announce.
        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        var url = addresses?.FirstOrDefault();
        if (url is null)
            return;
        url = url.Replace("://0.0.0.0:", "://127.0.0.1:", StringComparison.Ordinal).Replace("://[::]:", "://127.0.0.1:", StringComparison.Ordinal);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".tmp";
        File.WriteAllText(temporary, url + "\n");
        File.Move(temporary, full, overwrite: true);
        logger.LogInformation("Serving health and metrics at {Url}", url);
    }
}
