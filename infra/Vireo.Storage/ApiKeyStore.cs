using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Vireo.Storage;

/// <summary>An API key as stored: everything but the key itself, which is never kept.</summary>
public sealed record StoredApiKey(string KeyId, string TenantId, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>A key that was just made: <see cref="Secret"/> is shown once and cannot be read back.</summary>
public sealed record NewApiKey(StoredApiKey Key, string Secret);

/// <summary>
/// API keys of the results API. A key reads "vireo_" + its 12-character id + "_" + 43 characters of base64url
/// (32 random bytes). Only its SHA-256 is stored. A slow password hash (bcrypt, Argon2) protects secrets that people
/// choose and that can be guessed; a 256-bit random key cannot be guessed, so even a stolen table of hashes gives
/// nothing away, and a single fast hash keeps the check on every request to one index lookup.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource)
{
    public const string Prefix = "vireo_";
    public const int MaxNameLength = 200;

    public async Task<NewApiKey> CreateAsync(string tenantId, string name, CancellationToken cancellationToken = default)
    {
        if (!VideoKey.IsValidId(tenantId))
            throw new ArgumentException($"the tenant must be {VideoKey.IdRule}", nameof(tenantId));
        if (name.Length > MaxNameLength || name.Any(char.IsControl))
            throw new ArgumentException($"the name must be at most {MaxNameLength} characters without control characters", nameof(name));
        var keyId = Base64Url(RandomNumberGenerator.GetBytes(9));
        var secret = Prefix + keyId + "_" + Base64Url(RandomNumberGenerator.GetBytes(32));
        await using (var tenant = dataSource.CreateCommand("insert into tenants (tenant_id) values ($1) on conflict do nothing"))
        {
            tenant.Parameters.Add(new NpgsqlParameter { Value = tenantId });
            await tenant.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var insert = dataSource.CreateCommand("insert into api_keys (key_id, tenant_id, name, key_hash) values ($1, $2, $3, $4) returning created_at");
        insert.Parameters.Add(new NpgsqlParameter { Value = keyId });
        insert.Parameters.Add(new NpgsqlParameter { Value = tenantId });
        insert.Parameters.Add(new NpgsqlParameter { Value = name });
        insert.Parameters.Add(new NpgsqlParameter { Value = Hash(secret) });
        var createdAt = (DateTime)(await insert.ExecuteScalarAsync(cancellationToken))!;
        return new NewApiKey(new StoredApiKey(keyId, tenantId, name, new DateTimeOffset(createdAt, TimeSpan.Zero), null), secret);
    }

    /// <summary>The live (not revoked) key a presented secret stands for, or null.</summary>
    public async Task<StoredApiKey?> FindAsync(string secret, CancellationToken cancellationToken = default)
    {
        if (!LooksLikeKey(secret))
            return null;
        await using var command = dataSource.CreateCommand("""
            select key_id, tenant_id, name, created_at, revoked_at from api_keys where key_hash = $1 and revoked_at is null
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = Hash(secret) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<StoredApiKey>> ListAsync(string? tenantId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            select key_id, tenant_id, name, created_at, revoked_at from api_keys
            where $1::text is null or tenant_id = $1 order by tenant_id, created_at
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<StoredApiKey>();
        while (await reader.ReadAsync(cancellationToken))
            keys.Add(Read(reader));
        return keys;
    }

    /// <summary>Revokes a key by its id; false when no live key has that id.</summary>
    public async Task<bool> RevokeAsync(string keyId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("update api_keys set revoked_at = now() where key_id = $1 and revoked_at is null");
        command.Parameters.Add(new NpgsqlParameter { Value = keyId });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static bool LooksLikeKey(string secret) =>
        secret.Length == Prefix.Length + 12 + 1 + 43 && secret.StartsWith(Prefix, StringComparison.Ordinal);

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static StoredApiKey Read(NpgsqlDataReader reader) => new(reader.GetString(0), reader.GetString(1), reader.GetString(2),
        reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4));
}
