using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Vireo.Messaging;
using Vireo.ServiceDefaults;
using Vireo.Storage;

namespace Vireo.Sink;

public static class SinkHostExtensions
{
    /// <summary>The Kafka → Postgres sink, ready while both are reachable.</summary>
    public static IHostApplicationBuilder AddVireoSink(this IHostApplicationBuilder builder)
    {
        builder.Services.AddVireoMessaging().AddVireoStorage();
        builder.Services.AddOptions<SinkOptions>().BindConfiguration(SinkOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHostedService<SinkWorker>();
        builder.Services.AddHealthChecks().AddPostgresReadiness().AddKafkaReadiness();
        return builder;
    }
}
