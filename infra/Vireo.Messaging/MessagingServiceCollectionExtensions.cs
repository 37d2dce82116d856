using Microsoft.Extensions.DependencyInjection;

namespace Vireo.Messaging;

public static class MessagingServiceCollectionExtensions
{
    /// <summary>Kafka options (section "Kafka"), the shared publisher and the consumer factory.</summary>
    public static IServiceCollection AddVireoMessaging(this IServiceCollection services)
    {
        services.AddOptions<KafkaOptions>().BindConfiguration(KafkaOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<EventPublisher>();
        services.AddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EventPublisher>());
        services.AddSingleton<KafkaConsumers>();
        return services;
    }
}
