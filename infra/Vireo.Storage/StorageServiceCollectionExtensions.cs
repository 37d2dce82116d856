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
        services.AddSingleton(sp => DataSource(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ConnectionString));
        services.AddSingleton<Migrator>();
        services.AddSingleton<ResultStore>();
        services.AddSingleton<ResultQueries>();
        services.AddSingleton<ApiKeyStore>();
        return services;
    }

    /// <summary>
    /// Connections a process opens at most when the connection string names no "Maximum Pool Size": twice its cores,
    /// and at least 4. Npgsql's own default is 100, and a database given one backend per concurrent request runs them
    /// all at once: on the local stack's two cores the results API answered its frames page with a p99 of 342 ms at
    /// saturation over 16 backends, and of 28 ms over 4, at a higher rate (`vireo bench api`).
    /// </summary>
    public static int DefaultMaxConnections => Math.Max(4, 2 * Environment.ProcessorCount);

    /// <summary>The data source of a connection string, with <see cref="DefaultMaxConnections"/> unless it sets its own.</summary>
    public static NpgsqlDataSource DataSource(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        // The parsed keys are the ones the string sets, under their canonical names whatever synonym it used.
        if (!builder.ConnectionStringBuilder.Keys.Contains("Maximum Pool Size"))
            builder.ConnectionStringBuilder.MaxPoolSize = DefaultMaxConnections;
        return builder.Build();
    }
}
