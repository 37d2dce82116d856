using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Vireo.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>The Postgres data source (ConnectionStrings:Postgres), migrations and the result store.</summary>
    public static IServiceCollection AddVireoStorage(this IServiceCollection services)
    {
        services.AddOptions<StorageOptions>()
            .Configure<IConfiguration>((o, c) => o.ConnectionString = c["ConnectionStrings:Postgres"] ?? "")
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => new NpgsqlDataSourceBuilder(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ConnectionString).Build());
        services.AddSingleton<Migrator>();
        services.AddSingleton<ResultStore>();
        services.AddSingleton<ResultQueries>();
        services.AddSingleton<ApiKeyStore>();
        return services;
    }
}
