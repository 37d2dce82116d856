using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Vireo.Storage;

namespace Vireo.Cli.Commands;

/// <summary>`vireo keys create|list|revoke`: the API keys of the results API, stored hashed in Postgres.</summary>
public static class KeysCommand
{
    public static Command Create()
    {
        var keys = new Command("keys", "API keys of the results API: each belongs to one tenant and sees only its videos.");

        var tenant = new Option<string>("--tenant") { Description = "Tenant the key acts for.", Required = true };
        var name = new Option<string>("--name") { Description = "A label to recognise the key by.", DefaultValueFactory = _ => "" };
        var create = new Command("create", "Make a key and print it once; only its hash is stored.") { tenant, name };
        create.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            await using var services = CliServices.Build(s => s.AddVireoStorage());
            try
            {
                var made = await services.GetRequiredService<ApiKeyStore>().CreateAsync(r.GetValue(tenant)!, r.GetValue(name)!, ct);
                Console.Error.WriteLine($"key {made.Key.KeyId} for tenant {made.Key.TenantId}; it is shown only now:");
                Console.WriteLine(made.Secret);
                return 0;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {e.Message.Split(" (Parameter")[0]}");
                return 2;
            }
        });

        var listTenant = new Option<string?>("--tenant") { Description = "Only this tenant's keys." };
        var list = new Command("list", "List keys (ids, tenants, names, dates; never the keys themselves).") { listTenant };
        list.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            await using var services = CliServices.Build(s => s.AddVireoStorage());
            var all = await services.GetRequiredService<ApiKeyStore>().ListAsync(r.GetValue(listTenant), ct);
            Console.WriteLine($"{"id",-14}{"tenant",-20}{"created",-22}{"state",-30}name");
            foreach (var k in all)
                Console.WriteLine($"{k.KeyId,-14}{k.TenantId,-20}{Stamp(k.CreatedAt),-22}{(k.RevokedAt is { } at ? "revoked " + Stamp(at) : "live"),-30}{k.Name}");
            return 0;
        });

        var id = new Argument<string>("id") { Description = "The key's id, as `vireo keys list` shows it." };
        var revoke = new Command("revoke", "Revoke a key: the API refuses it from then on.") { id };
        revoke.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            await using var services = CliServices.Build(s => s.AddVireoStorage());
            if (await services.GetRequiredService<ApiKeyStore>().RevokeAsync(r.GetValue(id)!, ct))
            {
                Console.WriteLine($"revoked {r.GetValue(id)}");
                return 0;
            }
            Console.Error.WriteLine($"error: no live key has the id {r.GetValue(id)}");
            return 1;
        });

        keys.Subcommands.Add(create);
        keys.Subcommands.Add(list);
        keys.Subcommands.Add(revoke);
        return keys;
    }

    private static string Stamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
