using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace Vireo.Grains.Placement;

/// <summary>The roles a silo can hold; a silo publishes its roles in its metadata under <see cref="MetadataKey"/>.</summary>
public static class SiloRoles
{
    public const string Media = "media";
    public const string Vision = "vision";
    public const string Language = "language";
    public const string MetadataKey = "vireo.roles";

    public static IReadOnlyList<string> All { get; } = [Media, Vision, Language];

    public static bool Has(string? roles, string role) =>
        roles is not null && roles.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Contains(role, StringComparer.Ordinal);
}

/// <summary>Places a grain only on silos that hold <see cref="Role"/>. One subclass per role keeps each strategy stateless.</summary>
public abstract class RolePlacement : PlacementStrategy
{
    public abstract string Role { get; }
}

[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class MediaPlacement : RolePlacement
{
    public override string Role => SiloRoles.Media;
}

[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class VisionPlacement : RolePlacement
{
    public override string Role => SiloRoles.Vision;
}

[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class LanguagePlacement : RolePlacement
{
    public override string Role => SiloRoles.Language;
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class MediaPlacementAttribute() : PlacementAttribute(new MediaPlacement());

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class VisionPlacementAttribute() : PlacementAttribute(new VisionPlacement());

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class LanguagePlacementAttribute() : PlacementAttribute(new LanguagePlacement());

/// <summary>
/// Chooses among the active silos that publish the strategy's role. A worker keyed by a silo's address (see
/// <see cref="WorkerDirectory"/>) goes to that silo; a key naming a silo that is gone or lacks the role, and every
/// other grain, goes to a random silo of the role.
/// </summary>
public sealed class RolePlacementDirector(ISiloMetadataCache metadata) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var role = ((RolePlacement)strategy).Role;
        var candidates = context.GetCompatibleSilos(target)
            .Where(s => metadata.GetSiloMetadata(s).Metadata.TryGetValue(SiloRoles.MetadataKey, out var roles) && SiloRoles.Has(roles, role))
            .ToArray();
        if (candidates.Length == 0)
            throw new OrleansException($"No active silo holds the role '{role}' needed by {target.GrainIdentity}.");
        var named = WorkerDirectory.SiloOf(target.GrainIdentity);
        return Task.FromResult(named is not null && candidates.Contains(named) ? named : candidates[Random.Shared.Next(candidates.Length)]);
    }
}
