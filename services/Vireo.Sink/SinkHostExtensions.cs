using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Vireo.Messaging;
using Vireo.Storage;

namespace Vireo.Sink;

public static class SinkHostExtensions
{
    public static IHostApplicationBuilder AddVireoSink(this IHostApplicationBuilder builder)
    {
        builder.Services.AddVireoMessaging().AddVireoStorage();
        builder.Services.AddOptions<SinkOptions>().BindConfiguration(SinkOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHostedService<SinkWorker>();
        return builder;
    }
}
