using System.Collections.Immutable;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Vireo.Grains.Placement;

/// <summary>
/// Picks the silo that takes the next piece of a role's work. Workers are keyed by their silo's address, so the
/// choice follows the live membership: a silo that joins gets work on the next call, and one that leaves gets none.
/// A silo that holds the role itself keeps the work local; otherwise the role's silos take turns.
/// </summary>
public sealed class WorkerDirectory(IClusterMembershipService membership, ISiloMetadataCache metadata, ILocalSiloDetails local)
{
    private const string KeyPrefix = "silo/";
    private readonly Dictionary<string, (MembershipVersion Version, ImmutableArray<SiloAddress> Silos)> _byRole = [];
    private readonly Lock _gate = new();
    private int _turn;

    /// <summary>The key of the worker that should take the next request of <paramref name="role"/>.</summary>
    public string Next(string role)
    {
        var silos = SilosWith(role);
        if (silos.IsEmpty)
            throw new OrleansException($"No active silo holds the role '{role}'.");
        var chosen = silos.Contains(local.SiloAddress) ? local.SiloAddress : silos[(int)((uint)Interlocked.Increment(ref _turn) % (uint)silos.Length)];
        return KeyOf(chosen);
    }

    /// <summary>The active silos that publish <paramref name="role"/>, in a stable order.</summary>
    public ImmutableArray<SiloAddress> SilosWith(string role)
    {
        var snapshot = membership.CurrentSnapshot;
        lock (_gate)
        {
            if (_byRole.TryGetValue(role, out var cached) && cached.Version == snapshot.Version)
                return cached.Silos;
            var silos = snapshot.Members.Values
                .Where(m => m.Status == SiloStatus.Active
                    && metadata.GetSiloMetadata(m.SiloAddress).Metadata.TryGetValue(SiloRoles.MetadataKey, out var roles) && SiloRoles.Has(roles, role))
                .Select(m => m.SiloAddress)
                .OrderBy(s => s.ToParsableString(), StringComparer.Ordinal)
                .ToImmutableArray();
            // Metadata of a silo that just joined can arrive after its membership entry: cache only complete answers.
            if (!silos.IsEmpty)
                _byRole[role] = (snapshot.Version, silos);
            return silos;
        }
    }

    public static string KeyOf(SiloAddress silo) => KeyPrefix + silo.ToParsableString();

    /// <summary>The silo a worker's key names, or null for a grain not keyed that way.</summary>
    public static SiloAddress? SiloOf(GrainId grain)
    {
        var key = grain.Key.ToString();
        if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal))
            return null;
        try
        {
            return SiloAddress.FromParsableString(key[KeyPrefix.Length..]);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
