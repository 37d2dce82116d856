using Npgsql;

namespace Vireo.Testing;

/// <summary>
/// Endpoints of the local stack that `./vireo test` starts (it exports them from .state/stack.env). Tests use the
/// real services; a missing endpoint is a failure with instructions, not a skip.
/// </summary>
public static class LocalStack
{
    public static string PostgresConnectionString => Require("ConnectionStrings__Postgres");

    public static string RedisConnectionString => Require("ConnectionStrings__Redis");

    /// <summary>The state folder of the running stack, with its stack.env, secrets and logs.</summary>
    public static string StateFolder => Require("VIREO_STATE");

    public static string KafkaBootstrapServers
    {
        get
        {
            var file = Require("Kafka__BootstrapFile");
            if (!File.Exists(file))
                throw new InvalidOperationException($"{file} does not exist: the dev broker is not running (./vireo up).");
            return File.ReadAllText(file).Trim();
        }
    }

    private static string Require(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{variable} is not set: run the tests through `./vireo test`, or `./vireo up` and source .state/stack.env.");
}

/// <summary>A database of its own for one test class, dropped afterwards.</summary>
public sealed class TemporaryDatabase : IAsyncDisposable
{
    private readonly string _admin;

    private TemporaryDatabase(string admin, string name, string connectionString)
    {
        _admin = admin;
        Name = name;
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    public string Name { get; }
    public string ConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }

    public static async Task<TemporaryDatabase> CreateAsync()
    {
        var admin = LocalStack.PostgresConnectionString;
        var name = "vireo_test_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"create database {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        return new TemporaryDatabase(admin, name, builder.ConnectionString);
    }

    public Task<T> ScalarAsync<T>(string sql, params object[] parameters) => DataSource.ScalarAsync<T>(sql, parameters);

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_admin);
        await connection.OpenAsync();
        try
        {
            await using var command = new NpgsqlCommand($"drop database if exists {Name} with (force)", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            // FORCE may not signal an autovacuum worker (it runs as the superuser); a plain drop stops one itself.
            await using var command = new NpgsqlCommand($"drop database if exists {Name}", connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
