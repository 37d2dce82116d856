using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;

namespace Vireo.Messaging;

/// <summary>Something a process must have done before it takes work, declared when its services are registered.</summary>
public sealed record ReadinessRequirement(string Name);

/// <summary>
/// Conditions that keep a process out of service until the code that owns them says they hold, e.g. "model" until a
/// vision or language silo has loaded its weights. Each condition is declared at registration time with
/// <see cref="ReadinessGateServiceCollectionExtensions.AddReadinessRequirement"/>, so readiness is false from the
/// first probe, and opened by its owner with <see cref="Open"/>. The service defaults turn this gate into a check
/// behind /readyz; it has no dependency on ASP.NET, so grains can take it from DI.
/// </summary>
public sealed class ReadinessGate
{
    /// <summary>The condition a silo with the vision or language role waits on: its model loaded.</summary>
    public const string Model = "model";

    private readonly ConcurrentDictionary<string, bool> _conditions = new(StringComparer.Ordinal);

    public ReadinessGate(IEnumerable<ReadinessRequirement> requirements)
    {
        foreach (var requirement in requirements)
            _conditions.TryAdd(requirement.Name, false);
    }

    /// <summary>Conditions declared but not met yet.</summary>
    public IReadOnlyList<string> Pending => _conditions.Where(c => !c.Value).Select(c => c.Key).Order(StringComparer.Ordinal).ToArray();

    public bool IsOpen => _conditions.Values.All(open => open);

    /// <summary>Marks a condition as met. Opening one that was not declared adds it, already met.</summary>
    public void Open(string name) => _conditions[name] = true;

    /// <summary>Marks a condition as no longer met (e.g. a model being reloaded), taking the process out of service.</summary>
    public void Close(string name) => _conditions[name] = false;
}

public static class ReadinessGateServiceCollectionExtensions
{
    /// <summary>Registers the gate (once) and declares a condition that must be opened before the process is ready.</summary>
    public static IServiceCollection AddReadinessRequirement(this IServiceCollection services, string name)
    {
        services.AddSingleton(new ReadinessRequirement(name));
        services.AddReadinessGate();
        return services;
    }

    /// <summary>Registers the gate with whatever conditions are declared; with none, the gate is always open.</summary>
    public static IServiceCollection AddReadinessGate(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(ReadinessGate)))
            services.AddSingleton<ReadinessGate>();
        return services;
    }
}
