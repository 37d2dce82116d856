namespace Vireo.Testing;

/// <summary>Paths inside the checkout.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string ShippedModel => Environment.GetEnvironmentVariable("Workers__ModelPath") is { Length: > 0 } configured
        ? configured
        : Path.Combine(Root, "grains", "Vireo.Model", "checkpoints", "vireo-small");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Pipeline.sln not found above the test binaries.");
    }
}
