using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Vireo.Silo;

namespace Vireo.Deploy.Tests;

/// <summary>Silo:KubernetesHosting adds Orleans' Kubernetes cluster agent, and only when it is on.</summary>
public sealed class KubernetesHostingTests
{
    private const string PodName = "vireo-silo-media-7d9f8-x2x4q";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TheSwitchAddsTheKubernetesClusterAgent(bool enabled)
    {
        // What the kubelet puts in a silo pod's environment (the chart maps them with fieldRef); nothing else in this
        // test assembly reads them.
        Environment.SetEnvironmentVariable("POD_NAME", PodName);
        Environment.SetEnvironmentVariable("POD_NAMESPACE", "vireo");
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Silo:Roles"] = "media",
            ["Silo:KubernetesHosting"] = enabled ? "true" : "false",
            ["ConnectionStrings:Redis"] = "127.0.0.1:1",
            ["Kafka:BootstrapServers"] = "127.0.0.1:1",
        });
        builder.AddVireoSilo();
        // The agent is only looked at, not created: it connects to the API server in its constructor.
        var registered = builder.Services.SelectMany(d => new[] { d.ServiceType, d.ImplementationType }).Select(t => t?.FullName).ToHashSet();
        Assert.Contains("Orleans.Runtime.MembershipService.MembershipAgent", registered);
        Assert.Equal(enabled, registered.Contains("Orleans.Hosting.Kubernetes.KubernetesClusterAgent"));
        await using var app = builder.Build();
        // The agent finds a silo's pod by the silo's name, so under Kubernetes hosting the name is the pod's.
        var name = app.Services.GetRequiredService<IOptions<Orleans.Configuration.SiloOptions>>().Value.SiloName;
        Assert.Equal(enabled, name == PodName);
    }
}
