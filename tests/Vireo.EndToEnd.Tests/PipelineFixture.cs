namespace Vireo.EndToEnd.Tests;

/// <summary>
/// One cluster for every test of the "pipeline" collection: a silo with the media role, one with the vision and
/// language roles, and the sink. The tests use videos of their own, so they can share it, and the suite pays for
/// starting it once.
/// </summary>
public sealed class PipelineFixture : IAsyncLifetime
{
    public PipelineCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Cluster = await PipelineCluster.StartAsync([("media", "media"), ("gpu", "vision,language")]);

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
            await Cluster.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class PipelineCollection : ICollectionFixture<PipelineFixture>
{
    public const string Name = "pipeline";
}
