using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Vireo.Grains.Placement;
using Vireo.Grains.Workers;
using Vireo.Messaging;
using Vireo.ServiceDefaults;

namespace Vireo.Silo;

/// <summary>Ready once Orleans' membership lists this silo as active: it has joined the cluster and can take calls.</summary>
public sealed class SiloMembershipHealthCheck(IClusterMembershipService membership, ILocalSiloDetails silo) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy($"{silo.Name} is active")
            : HealthCheckResult.Unhealthy($"{silo.Name} is {status} in the cluster"));
    }
}

/// <summary>
/// Loads the model when a vision or language silo starts, instead of on the first frame, and opens the
/// <see cref="ReadinessGate.Model"/> condition once it is in memory, so that the silo is not reported ready before
/// it can serve. When the model host opens the gate itself, this service can go.
/// </summary>
public sealed class ModelWarmup(IServiceProvider services, ReadinessGate gate, ILogger<ModelWarmup> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(() =>
    {
        // Each side loads only on a silo of its role; a silo with both roles loads both.
        services.GetService<VisionHost>();
        services.GetService<LanguageHost>();
        gate.Open(ReadinessGate.Model);
        logger.LogInformation("Model ready");
    }, stoppingToken);
}

public static class SiloReadinessExtensions
{
    /// <summary>Readiness of a silo: membership active, and on vision and language silos the model loaded.</summary>
    public static IServiceCollection AddSiloReadiness(this IServiceCollection services, IReadOnlyList<string> roles)
    {
        services.AddHealthChecks().AddCheck<SiloMembershipHealthCheck>("membership", tags: [HealthTags.Ready]);
        if (roles.Contains(SiloRoles.Vision) || roles.Contains(SiloRoles.Language))
        {
            services.AddReadinessRequirement(ReadinessGate.Model);
            services.AddHostedService<ModelWarmup>();
        }
        return services;
    }
}
