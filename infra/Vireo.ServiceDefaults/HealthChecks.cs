using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using Vireo.Messaging;

namespace Vireo.ServiceDefaults;

/// <summary>Tags that decide which endpoint runs a check.</summary>
public static class HealthTags
{
    /// <summary>/healthz: the process runs and answers; a failure means "restart me".</summary>
    public const string Live = "live";

    /// <summary>/readyz: the process can take work; a failure means "send me nothing yet".</summary>
    public const string Ready = "ready";
}

/// <summary>Ready once every condition declared on the <see cref="ReadinessGate"/> has been opened by its owner.</summary>
public sealed class ReadinessGateHealthCheck(ReadinessGate gate) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var pending = gate.Pending;
        return Task.FromResult(pending.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"waiting for: {string.Join(", ", pending)}"));
    }
}

/// <summary>Ready while Postgres answers a trivial query through the process's data source.</summary>
public sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("select 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"Postgres is unreachable: {e.Message}");
        }
    }
}

/// <summary>
/// Ready while the Kafka bootstrap servers answer a metadata request. Metadata is the cheapest call every cluster
/// answers, the local mock cluster included (which crashes on ListConsumerGroups and times out on CreateTopics).
/// </summary>
public sealed class KafkaHealthCheck : IHealthCheck, IDisposable
{
    private readonly Lazy<IAdminClient> _admin;

    public KafkaHealthCheck(IOptions<KafkaOptions> options) =>
        _admin = new(() => new AdminClientBuilder(options.Value.Secure(new AdminClientConfig
        {
            BootstrapServers = options.Value.ResolveBootstrapServers(),
            ClientId = $"vireo-health-{Environment.ProcessId}",
        })).Build());

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // GetMetadata blocks the calling thread for up to its timeout.
            var metadata = await Task.Run(() => _admin.Value.GetMetadata(TimeSpan.FromSeconds(3)), cancellationToken);
            return metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} brokers")
                : HealthCheckResult.Unhealthy("Kafka answered with no brokers");
        }
        catch (Exception e) when (e is KafkaException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy($"Kafka is unreachable: {e.Message}");
        }
    }

    public void Dispose()
    {
        if (_admin.IsValueCreated)
            _admin.Value.Dispose();
    }
}

public static class VireoHealthChecksBuilderExtensions
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Readiness on Postgres, through the <see cref="NpgsqlDataSource"/> the process registered.</summary>
    public static IHealthChecksBuilder AddPostgresReadiness(this IHealthChecksBuilder builder) =>
        builder.AddCheck<PostgresHealthCheck>("postgres", tags: [HealthTags.Ready], timeout: Timeout);

    /// <summary>Readiness on the Kafka cluster of <see cref="KafkaOptions"/>.</summary>
    public static IHealthChecksBuilder AddKafkaReadiness(this IHealthChecksBuilder builder)
    {
        builder.Services.AddSingleton<KafkaHealthCheck>();
        return builder.AddCheck<KafkaHealthCheck>("kafka", tags: [HealthTags.Ready], timeout: Timeout);
    }
}
