using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Vireo.Messaging;

/// <summary>
/// A consume loop on a thread of its own, as every Vireo consumer runs it: subscribed to its pipeline topics in its
/// group, stopped by the host's token, closed (leaving the group cleanly) on the way out, and stopped for good by a
/// fatal client error.
/// </summary>
public abstract class ConsumerService : BackgroundService
{
    private readonly KafkaConsumers _consumers;
    private readonly string _name;
    private readonly string _groupId;
    private readonly string[] _topics;

    protected ConsumerService(KafkaConsumers consumers, string name, string groupId, string[] topics, ILogger logger)
    {
        _consumers = consumers;
        _name = name;
        _groupId = groupId;
        _topics = topics;
        Logger = logger;
    }

    protected ILogger Logger { get; }

    /// <summary>The loop itself; it stores each record's offset once that record's work is done.</summary>
    protected abstract Task ConsumeAsync(IConsumer<string, byte[]> consumer, CancellationToken stoppingToken);

    protected sealed override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => RunAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        using var consumer = _consumers.Create(_groupId, $"vireo-{_name.ToLowerInvariant()}", _topics);
        Logger.LogInformation("{Name} consuming {Topics} as group {Group}", _name, string.Join(", ", _topics), _groupId);
        try
        {
            await ConsumeAsync(consumer, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (KafkaException e) when (e.Error.IsFatal)
        {
            Logger.LogCritical(e, "Fatal Kafka error; {Name} stops", _name);
            throw;
        }
        finally
        {
            consumer.Close();
            VireoMetrics.ForgetConsumer(consumer.Name);
        }
    }
}
