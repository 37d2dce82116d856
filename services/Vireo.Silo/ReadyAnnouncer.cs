using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Vireo.Silo;

/// <summary>Logs one line once the silo has started, for people reading its log; readiness is /readyz.</summary>
public sealed class ReadyAnnouncer(IHostApplicationLifetime lifetime, ILocalSiloDetails silo, ILogger<ReadyAnnouncer> logger, SiloOptions options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
            logger.LogInformation("Vireo silo started: {Name} at {Address} with roles {Roles}", silo.Name, silo.SiloAddress, options.Roles));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
