namespace Vireo.Testing;

/// <summary>Paths inside the checkout.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>The checkpoint the repository ships.</summary>
    public static string ShippedCheckpoint => Path.Combine(Root, "grains", "Vireo.Model", "checkpoints", "vireo-small");

    /// <summary>The model the pipeline's silos load: <c>Workers__ModelPath</c> when set, else the shipped checkpoint.</summary>
    public static string ShippedModel => Environment.GetEnvironmentVariable("Workers__ModelPath") is { Length: > 0 } configured
        ? configured
        : ShippedCheckpoint;

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Pipeline.sln not found above the test binaries.");
    }
}
