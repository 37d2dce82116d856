using System.Globalization;
using System.Reflection;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Vireo.Api;
using Vireo.Blobs;
using Vireo.Grains;
using Vireo.Media;
using Vireo.Messaging;
using Vireo.ServiceDefaults;
using Vireo.Silo;
using Vireo.Silo.Ingest;
using Vireo.Sink;

namespace Vireo.Deploy.Tests;

/// <summary>
/// helm/vireo, offline: it lints, renders, every rendered object is valid against the Kubernetes, KEDA and
/// Prometheus-operator schemas, and what matters for running Vireo holds in what it renders.
/// </summary>
public sealed class ChartTests
{
    /// <summary>The values sets the chart is checked with: its defaults, the production example, and the fallbacks.</summary>
    private static readonly string[] Sets = ["defaults", "production", "keda-off", "gpu-cron"];

    public static TheoryData<string> ValueSets => new(Sets);

    private static string[] Arguments(string set) => set switch
    {
        "defaults" => [],
        "production" => ["-f", Helm.ProductionValues],
        "keda-off" => ["--set", "autoscaling.keda.enabled=false", "--set", "model.source=objectStore", "--set", "objectStore.bucket=models",
            "--set", "objectStore.existingSecret=store", "--set", "metrics.serviceMonitor.enabled=true", "--set", "api.ingress.enabled=true",
            "--set", "api.ingress.hosts[0]=vireo.example.com"],
        "gpu-cron" => ["-f", Helm.ProductionValues, "--set", "autoscaling.gpu.trigger=cron", "--set", "kafka.topicPrefix=staging.", "--set", "model.source=image"],
        _ => throw new ArgumentOutOfRangeException(nameof(set)),
    };

    private static Manifests Render(string set) => Manifests.Render(Arguments(set));

    [SkippableTheory]
    [InlineData("defaults")]
    [InlineData("production")]
    public void LintsStrictly(string set)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var result = Helm.Lint(Arguments(set));
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("0 chart(s) failed", result.All);
    }

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void EveryRenderedObjectIsValidAgainstItsSchema(string set)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        Skip.If(Tools.Node is null || Tools.KubernetesModels is null, Tools.ModelsMissing);
        var manifests = Render(set);
        var result = Validate(manifests.Objects);
        Assert.True(result.ExitCode == 0, result.All);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(manifests.Objects.Count, lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }

    [SkippableFact]
    public void TheValidatorRefusesAWrongObject()
    {
        Skip.If(Tools.Node is null || Tools.KubernetesModels is null, Tools.ModelsMissing);
        var deployment = JsonNode.Parse("""
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
             "spec": {"replicas": "two", "selector": {"matchLabels": {"a": "b"}},
                      "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
            """)!.AsObject();
        var scaledObject = JsonNode.Parse("""{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "y"}, "spec": {"triggers": []}}""")!.AsObject();
        var unknown = JsonNode.Parse("""{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "z"}}""")!.AsObject();
        var result = Validate([deployment, scaledObject, unknown]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("invalid Deployment/x", result.Output);
        Assert.Contains("replicas", result.Output);
        Assert.Contains("invalid ScaledObject/y", result.Output);
        Assert.Contains("invalid Widget/z: no schema", result.Output);
    }

    [SkippableTheory]
    [InlineData("silos.media.replicaCount=two", "/silos/media/replicaCount")]
    [InlineData("httpPort=http", "/httpPort")]
    [InlineData("orleans.kubernetesHosting=yes", "/orleans/kubernetesHosting")]
    [InlineData("silos.vision.roles=vision+ocr", "/silos/vision/roles")]
    [InlineData("autoscaling.gpu.trigger=memory", "/autoscaling/gpu/trigger")]
    public void TheSchemaRefusesAWrongValue(string setting, string path)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var template = Helm.Template("--set", setting);
        Assert.NotEqual(0, template.ExitCode);
        Assert.Contains(path, template.All);
        var lint = Helm.Lint("--set", setting);
        Assert.NotEqual(0, lint.ExitCode);
    }

    [SkippableTheory]
    [InlineData("model.source=objectStore", "objectStore.bucket and objectStore.existingSecret are required")]
    [InlineData("model.pvc.existingClaim=", "model.pvc.existingClaim is required")]
    [InlineData("postgres.existingSecret=", "postgres.existingSecret is required")]
    [InlineData("media.existingClaim=", "media.existingClaim is required while api.enabled is true")]
    public void AMissingRequiredValueStopsTheRender(string setting, string message)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var result = Helm.Template("--set", setting);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(message, result.All);
    }

    [SkippableFact]
    public void TheSchemaRefusesAnUnknownValue()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var result = Helm.Template("--set", "sink.replicas=3");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("replicas", result.All);
    }

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void OnlyVisionAndLanguagePodsAskForGpus(string set)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var manifests = Render(set);
        var withGpu = new List<string>();
        foreach (var deployment in manifests.OfKind("Deployment"))
        {
            var pod = deployment["spec"]!["template"]!["spec"]!;
            var container = pod["containers"]![0]!;
            var gpus = container["resources"]?["limits"]?["nvidia.com/gpu"];
            var roles = Env(container, "Silo__Roles")?.Split(',') ?? [];
            var modelRoles = roles.Contains("vision") || roles.Contains("language");
            Assert.True(modelRoles == (gpus is not null), $"{Manifests.Name(deployment)}: roles [{string.Join(',', roles)}], GPU limit {gpus}");
            if (gpus is null)
            {
                Assert.DoesNotContain("silo-cuda", (string)container["image"]!);
                continue;
            }
            withGpu.Add(Manifests.Name(deployment));
            Assert.True(gpus.GetValue<long>() >= 1);
            Assert.Contains("silo-cuda", (string)container["image"]!);
            Assert.Equal("cuda", Env(container, "Workers__Device"));
            Assert.NotEmpty(pod["nodeSelector"]!.AsObject());
            Assert.Contains(pod["tolerations"]!.AsArray(), t => ((string?)t!["key"])?.Contains("nvidia.com/gpu") == true);
        }
        Assert.Equal(["vireo-silo-language", "vireo-silo-vision"], withGpu.Order());
    }

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void EveryDeploymentContainerIsProbedOnTheHealthEndpoints(string set)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        foreach (var deployment in Render(set).OfKind("Deployment"))
        {
            var pod = deployment["spec"]!["template"]!["spec"]!;
            foreach (var container in pod["containers"]!.AsArray())
            {
                var name = $"{Manifests.Name(deployment)}/{container!["name"]}";
                Assert.Contains(container["ports"]!.AsArray(), p => (string?)p!["name"] == "http");
                Assert.True(container["startupProbe"] is not null, $"{name} has no startup probe");
                Assert.Equal(ServiceDefaultsExtensions.LivenessPath, (string?)container["startupProbe"]!["httpGet"]!["path"]);
                Assert.Equal(ServiceDefaultsExtensions.LivenessPath, (string?)container["livenessProbe"]!["httpGet"]!["path"]);
                Assert.Equal(ServiceDefaultsExtensions.ReadinessPath, (string?)container["readinessProbe"]!["httpGet"]!["path"]);
                foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
                    Assert.Equal("http", (string?)container[probe]!["httpGet"]!["port"]);
                Assert.Equal("0.0.0.0", Env(container, "Http__Address"));
                var port = container["ports"]!.AsArray().Single(p => (string?)p!["name"] == "http")!["containerPort"]!.GetValue<long>();
                Assert.Equal(port.ToString(), Env(container, "Http__Port"));
                Assert.NotNull(container["lifecycle"]?["preStop"]);
            }
            // The host's shutdown timeout must end before the kubelet's SIGKILL.
            var grace = pod["terminationGracePeriodSeconds"]!.GetValue<long>();
            var shutdown = long.Parse(Env(pod["containers"]![0]!, "DOTNET_shutdownTimeoutSeconds")!);
            Assert.InRange(shutdown, 1, grace - 1);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void EveryDeploymentHasADisruptionBudget(string set)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var manifests = Render(set);
        var budgets = manifests.OfKind("PodDisruptionBudget").Select(p => p["spec"]!["selector"]!["matchLabels"]!.ToJsonString()).ToList();
        var deployments = manifests.OfKind("Deployment").ToList();
        Assert.Equal(5, deployments.Count);
        foreach (var deployment in deployments)
            Assert.Contains(deployment["spec"]!["selector"]!["matchLabels"]!.ToJsonString(), budgets);
    }

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void NoContainerRunsAsRootOrCanWriteItsImage(string set)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var specs = Render(set).PodSpecs().ToList();
        Assert.Contains(specs, s => s.Owner.StartsWith("Job/", StringComparison.Ordinal));
        foreach (var (owner, pod) in specs)
        {
            var containers = pod["containers"]!.AsArray().Concat(pod["initContainers"]?.AsArray() ?? []).ToList();
            foreach (var container in containers)
            {
                var name = $"{owner}/{container!["name"]}";
                var context = container["securityContext"];
                Assert.True(context is not null, $"{name} has no securityContext");
                var nonRoot = (bool?)context["runAsNonRoot"] ?? (bool?)pod["securityContext"]?["runAsNonRoot"];
                var user = (long?)context["runAsUser"] ?? (long?)pod["securityContext"]?["runAsUser"];
                Assert.True(nonRoot == true, $"{name} may run as root");
                Assert.True(user is > 0, $"{name} runs as user {user}");
                Assert.True((bool?)context["readOnlyRootFilesystem"] == true, $"{name} can write its root filesystem");
                Assert.True((bool?)context["allowPrivilegeEscalation"] == false, $"{name} allows privilege escalation");
                Assert.Contains("ALL", context["capabilities"]!["drop"]!.AsArray().Select(c => (string?)c));
            }
        }
    }

    [SkippableTheory]
    [InlineData("defaults", "")]
    [InlineData("gpu-cron", "staging.")]
    public void KedaScalesMediaSilosAndTheSinkOnTheLagOfTheirTopics(string set, string prefix)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var manifests = Render(set);
        var media = KafkaTrigger(manifests.Named("ScaledObject", "vireo-silo-media"));
        Assert.Equal(prefix + VireoTopics.VideoUploaded, (string?)media["topic"]);
        Assert.Equal(new IngestOptions().GroupId, (string?)media["consumerGroup"]);
        var sink = KafkaTrigger(manifests.Named("ScaledObject", "vireo-sink"));
        Assert.Equal(prefix + VireoTopics.FramesAnalyzed, (string?)sink["topic"]);
        Assert.Equal(new SinkOptions().GroupId, (string?)sink["consumerGroup"]);

        // The consumers use the same group names and topic prefix as the triggers.
        var mediaContainer = manifests.Named("Deployment", "vireo-silo-media")["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal((string?)media["consumerGroup"], Env(mediaContainer, "Ingest__GroupId"));
        Assert.Equal(prefix, Env(mediaContainer, "Kafka__TopicPrefix"));
        Assert.Equal((string?)media["bootstrapServers"], Env(mediaContainer, "Kafka__BootstrapServers"));
        var sinkContainer = manifests.Named("Deployment", "vireo-sink")["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal((string?)sink["consumerGroup"], Env(sinkContainer, "Sink__GroupId"));

        foreach (var scaled in manifests.OfKind("ScaledObject"))
            manifests.Named("Deployment", (string)scaled["spec"]!["scaleTargetRef"]!["name"]!);
        Assert.DoesNotContain(manifests.OfKind("HorizontalPodAutoscaler"), h => Manifests.Name(h) != "vireo-api");
    }

    [SkippableFact]
    public void GpuSilosScaleOnTheQueueDepthOfTheirStage()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var manifests = Render("defaults");
        foreach (var stage in new[] { PipelineStage.Vision, PipelineStage.Language })
        {
            var name = stage.ToString().ToLowerInvariant();
            var trigger = manifests.Named("ScaledObject", $"vireo-silo-{name}")["spec"]!["triggers"]!.AsArray().Single()!;
            Assert.Equal("prometheus", (string?)trigger["type"]);
            var query = (string)trigger["metadata"]!["query"]!;
            Assert.Contains($"vireo_queue_depth{{queue=\"{name}\"", query);
            Assert.Contains($"service=\"vireo-silo-{name}\"", query);
        }
        var cron = Render("gpu-cron").Named("ScaledObject", "vireo-silo-vision")["spec"]!["triggers"]!.AsArray().Single()!;
        Assert.Equal("cron", (string?)cron["type"]);
    }

    [SkippableFact]
    public void WithoutKedaEveryAutoscaledDeploymentHasACpuAutoscaler()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var manifests = Render("keda-off");
        Assert.Empty(manifests.OfKind("ScaledObject"));
        var targets = manifests.OfKind("HorizontalPodAutoscaler").Select(h => (string)h["spec"]!["scaleTargetRef"]!["name"]!).Order();
        Assert.Equal(manifests.OfKind("Deployment").Select(Manifests.Name).Order(), targets);
        foreach (var deployment in manifests.OfKind("Deployment"))
            Assert.Null(deployment["spec"]!["replicas"]);
    }

    [SkippableFact]
    public void SilosCarryWhatOrleansKubernetesHostingNeeds()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var manifests = Render("defaults");
        var rule = manifests.OfKind("Role").Single()["rules"]!.AsArray().Single()!;
        Assert.Equal(["pods"], rule["resources"]!.AsArray().Select(r => (string?)r));
        Assert.Equal(["delete", "get", "list", "patch", "watch"], rule["verbs"]!.AsArray().Select(v => (string)v!).Order());
        var binding = manifests.OfKind("RoleBinding").Single();
        var account = (string)binding["subjects"]![0]!["name"]!;
        foreach (var deployment in manifests.OfKind("Deployment").Where(d => Manifests.Name(d).Contains("-silo-")))
        {
            var template = deployment["spec"]!["template"]!;
            var container = template["spec"]!["containers"]![0]!;
            Assert.Equal(account, (string?)template["spec"]!["serviceAccountName"]);
            Assert.True((bool?)template["spec"]!["automountServiceAccountToken"]);
            Assert.Equal("true", Env(container, "Silo__KubernetesHosting"));
            Assert.Equal(Env(container, "Silo__ServiceId"), (string?)template["metadata"]!["labels"]!["orleans/serviceId"]);
            Assert.Equal(Env(container, "Silo__ClusterId"), (string?)template["metadata"]!["labels"]!["orleans/clusterId"]);
            Assert.Equal("$(POD_NAME)", Env(container, "Silo__Name"));
            Assert.Equal("$(POD_IP)", Env(container, "Silo__AdvertisedAddress"));
            Assert.Contains(container["env"]!.AsArray(), e => (string?)e!["name"] == "POD_NAMESPACE");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void NetworkPoliciesLetTheHelmTestAndPrometheusIn(string set)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var manifests = Render(set);
        var testPod = manifests.OfKind("Pod").Single()["metadata"]!["labels"]!.AsObject();
        var policies = manifests.OfKind("NetworkPolicy").ToList();
        Assert.Equal(manifests.OfKind("Deployment").Select(Manifests.Name).Order(), policies.Select(Manifests.Name).Order());
        var api = policies.Single(p => Manifests.Name(p) == "vireo-api");
        var http = api["spec"]!["ingress"]!.AsArray().Single(r => r!["ports"]!.AsArray().Any(p => (string?)p!["port"] == "http"))!;
        if (http["from"] is JsonArray peers)
        {
            // Peers are ORed; a pod selector without a namespace selector means this namespace.
            Assert.Contains(peers, p => p!["namespaceSelector"] is null && p["podSelector"] is JsonObject selector
                && selector["matchLabels"]!.AsObject().All(l => testPod[l.Key]?.ToJsonString() == l.Value!.ToJsonString()));
            var metricsFrom = set == "production" ? 1 : 0;
            Assert.True(peers.Count(p => p!["namespaceSelector"] is not null) >= metricsFrom + 1);
        }
        foreach (var silo in policies.Where(p => Manifests.Name(p).Contains("-silo-")))
        {
            var rules = silo["spec"]!["ingress"]!.AsArray();
            Assert.Contains(rules, r => r!["ports"]!.AsArray().Any(p => (string?)p!["port"] == "silo")
                && (string?)r["from"]![0]!["podSelector"]!["matchLabels"]!["vireo/silo"] == "true");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(ValueSets))]
    public void EveryConfigurationKeyTheChartSetsIsOneTheProcessesRead(string set)
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var sections = new Dictionary<string, Type>
        {
            [HttpEndpointOptions.Section] = typeof(HttpEndpointOptions),
            [TelemetryOptions.Section] = typeof(TelemetryOptions),
            [KafkaOptions.Section] = typeof(KafkaOptions),
            [Silo.SiloOptions.Section] = typeof(Silo.SiloOptions),
            [DashboardOptions.Section] = typeof(DashboardOptions),
            [WorkerOptions.Section] = typeof(WorkerOptions),
            [PipelineOptions.Section] = typeof(PipelineOptions),
            [IngestOptions.Section] = typeof(IngestOptions),
            [SinkOptions.Section] = typeof(SinkOptions),
            [MediaOptions.SectionName] = typeof(MediaOptions),
            [BlobOptions.Section] = typeof(BlobOptions),
        };
        var keys = 0;
        foreach (var (owner, pod) in Render(set).PodSpecs())
        {
            foreach (var container in pod["containers"]!.AsArray())
            {
                foreach (var variable in container!["env"]?.AsArray() ?? [])
                {
                    var name = (string)variable!["name"]!;
                    if (!name.Contains("__", StringComparison.Ordinal))
                        continue;
                    keys++;
                    var parts = name.Split("__");
                    Assert.True(parts.Length >= 2, $"{owner}: {name} is not Section__Key");
                    if (parts[0] == "ConnectionStrings")
                    {
                        Assert.Equal(2, parts.Length);
                        Assert.Contains(parts[1], new[] { "Postgres", "Redis" });
                        continue;
                    }
                    Assert.True(sections.TryGetValue(parts[0], out var type), $"{owner}: {name} names no options section");
                    // Section__Sub__Key names a key of a nested settings object (Blobs__S3__Bucket).
                    foreach (var part in parts[1..^1])
                    {
                        var nested = type.GetProperty(part, BindingFlags.Public | BindingFlags.Instance);
                        Assert.True(nested is not null && nested.PropertyType.IsClass && nested.PropertyType != typeof(string), $"{owner}: {name}: {part} is not a settings object of {type.Name}");
                        type = nested.PropertyType;
                    }
                    var property = type.GetProperty(parts[^1], BindingFlags.Public | BindingFlags.Instance);
                    Assert.True(property is { CanWrite: true }, $"{owner}: {name} is not a settable key of {type.Name}");
                }
            }
        }
        Assert.True(keys > 50, $"only {keys} keys found");
    }

    [SkippableFact]
    public void ThumbnailsGoWhereBlobsSaysForMediaSilosAndTheApiAlone()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        static JsonNode Container(Manifests m, string name) => m.Named("Deployment", name)["spec"]!["template"]!["spec"]!["containers"]![0]!;
        static JsonNode? EnvEntry(JsonNode container, string name) => container["env"]?.AsArray().FirstOrDefault(e => (string?)e!["name"] == name);

        // Production: a bucket of its own, with the object store's region and credentials from its Secret.
        var production = Render("production");
        foreach (var name in new[] { "vireo-silo-media", "vireo-api" })
        {
            var container = Container(production, name);
            Assert.Equal("s3", Env(container, "Blobs__Kind"));
            Assert.Equal("vireo-thumbnails", Env(container, "Blobs__S3__Bucket"));
            Assert.Equal("eu-central-1", Env(container, "Blobs__S3__Region"));
            Assert.Equal("vireo-object-store", (string?)EnvEntry(container, "Blobs__S3__SecretAccessKey")!["valueFrom"]!["secretKeyRef"]!["name"]);
            Assert.Equal("secret-access-key", (string?)EnvEntry(container, "Blobs__S3__SecretAccessKey")!["valueFrom"]!["secretKeyRef"]!["key"]);
        }
        foreach (var name in new[] { "vireo-silo-vision", "vireo-silo-language", "vireo-sink" })
            Assert.Null(EnvEntry(Container(production, name), "Blobs__Kind"));

        // A folder: the same ReadWriteMany claim, mounted where Blobs:Root says, in media silos and the API.
        var folder = Manifests.Render("--set", "blobs.kind=folder", "--set", "blobs.folder.existingClaim=vireo-thumbnails");
        foreach (var name in new[] { "vireo-silo-media", "vireo-api" })
        {
            var deployment = folder.Named("Deployment", name);
            var container = Container(folder, name);
            Assert.Equal("folder", Env(container, "Blobs__Kind"));
            var mount = container["volumeMounts"]!.AsArray().Single(m => (string?)m!["name"] == "blobs")!;
            Assert.Equal(Env(container, "Blobs__Root"), (string?)mount["mountPath"]);
            var volume = deployment["spec"]!["template"]!["spec"]!["volumes"]!.AsArray().Single(v => (string?)v!["name"] == "blobs")!;
            Assert.Equal("vireo-thumbnails", (string?)volume["persistentVolumeClaim"]!["claimName"]);
        }
        Assert.DoesNotContain(Container(folder, "vireo-silo-vision")["volumeMounts"]!.AsArray(), m => (string?)m!["name"] == "blobs");

        // Off by default; a folder without a claim is refused at render time.
        Assert.Equal("none", Env(Container(Render("defaults"), "vireo-api"), "Blobs__Kind"));
        var refused = Helm.Template("--set", "blobs.kind=folder");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("blobs.folder.existingClaim is required", refused.All);
    }

    [SkippableFact]
    public void ASiloLeftUnderTenSecondsToStopStopsTheRender()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var refused = Helm.Template("--set", "siloDefaults.terminationGracePeriodSeconds=30", "--set", "siloDefaults.preStopSleepSeconds=30");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("siloDefaults.terminationGracePeriodSeconds (30) must be at least siloDefaults.preStopSleepSeconds (30) + 15", refused.All);

        // The smallest gap the chart takes leaves the host 10 s after the preStop sleep and the 5 s margin.
        var tight = Manifests.Render("--set", "siloDefaults.terminationGracePeriodSeconds=30", "--set", "siloDefaults.preStopSleepSeconds=15");
        Assert.Equal("10", Env(FirstContainer(tight, "vireo-silo-media"), "DOTNET_shutdownTimeoutSeconds"));
    }

    [SkippableFact]
    public void GpuSilosRollOutWithoutASurgePod()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        foreach (var set in Sets)
        {
            var silos = Render(set).OfKind("Deployment").Where(d => Manifests.Name(d).Contains("-silo-")).ToList();
            foreach (var deployment in silos)
            {
                var gpu = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["resources"]?["limits"]?["nvidia.com/gpu"] is not null;
                var rolling = deployment["spec"]!["strategy"]!["rollingUpdate"]!;
                var (surge, unavailable) = (rolling["maxSurge"]!.GetValue<long>(), rolling["maxUnavailable"]!.GetValue<long>());
                // On a full GPU pool a surge pod stays Pending and the rollout never ends; other silos start their successor first.
                Assert.True(gpu ? (surge, unavailable) == (0, 1) : (surge, unavailable) == (1, 0),
                    $"{set}: {Manifests.Name(deployment)} (GPU: {gpu}) rolls out with maxSurge {surge}, maxUnavailable {unavailable}");
            }
            Assert.Contains(silos, d => Manifests.Name(d) == "vireo-silo-media");
        }
    }

    [SkippableFact]
    public void ASiloEntryWithOnlyItsRequiredKeysRunsItsReplicasOnItsImagesDevice()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        string[] minimal = ["--set", "silos.vision.enabled=false", "--set", "silos.language.enabled=false",
            "--set-json", """silos.gpu={"enabled":true,"roles":"vision,language","gpu":true,"replicaCount":1}""",
            "--set-json", """silos.extra={"enabled":true,"roles":"media","gpu":false,"replicaCount":2}"""];
        foreach (var keda in new[] { "true", "false" })
        {
            var manifests = Manifests.Render([.. minimal, "--set", $"autoscaling.keda.enabled={keda}"]);
            foreach (var (name, replicas, device, image) in new[] { ("vireo-silo-gpu", 1L, "cuda", "vireo/silo-cuda:"), ("vireo-silo-extra", 2L, "cpu", "vireo/silo:") })
            {
                var deployment = manifests.Named("Deployment", name);
                Assert.Equal(replicas, (long?)deployment["spec"]!["replicas"]);
                var container = FirstContainer(manifests, name);
                Assert.Equal(device, Env(container, "Workers__Device"));
                Assert.Contains(image, (string)container["image"]!);
                Assert.DoesNotContain(manifests.OfKind("ScaledObject").Concat(manifests.OfKind("HorizontalPodAutoscaler")),
                    a => (string?)a["spec"]!["scaleTargetRef"]!["name"] == name);
            }
            if (Tools.Node is not null && Tools.KubernetesModels is not null)
            {
                var result = Validate(manifests.Objects);
                Assert.True(result.ExitCode == 0, result.All);
            }
        }
    }

    [SkippableFact]
    public void OnlyWorkloadsThatAKafkaTriggerWakesMayScaleToZero()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        // An HPA with minReplicas 0 is refused by Kubernetes (without the HPAScaleToZero alpha gate); a silo without
        // the media role at 0 replicas reports no queue depth that could wake it.
        var refused = new (string[] Settings, string Path)[]
        {
            (["--set", "api.autoscaling.minReplicas=0"], "/api/autoscaling/minReplicas"),
            (["--set", "silos.vision.autoscaling.minReplicas=0"], "/silos/vision/autoscaling/minReplicas"),
            (["--set", "autoscaling.gpu.trigger=cron", "--set", "silos.language.autoscaling.minReplicas=0"], "/silos/language/autoscaling/minReplicas"),
            (["--set", "autoscaling.keda.enabled=false", "--set", "silos.media.autoscaling.minReplicas=0"], "/silos/media/autoscaling/minReplicas"),
            (["--set", "autoscaling.keda.enabled=false", "--set", "sink.autoscaling.minReplicas=0"], "/sink/autoscaling/minReplicas"),
        };
        foreach (var (settings, path) in refused)
        {
            var result = Helm.Template(settings);
            Assert.True(result.ExitCode != 0, $"{string.Join(' ', settings)} rendered");
            Assert.Contains(path, result.All);
        }

        var zero = Manifests.Render("--set", "silos.media.autoscaling.minReplicas=0", "--set", "sink.autoscaling.minReplicas=0");
        foreach (var name in new[] { "vireo-silo-media", "vireo-sink" })
        {
            var scaled = zero.Named("ScaledObject", name);
            Assert.Equal(0L, (long?)scaled["spec"]!["minReplicaCount"]);
            KafkaTrigger(scaled);
        }
    }

    [SkippableFact]
    public void UploadsLandOnTheClaimTheMediaSilosRead()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        foreach (var set in Sets)
        {
            var manifests = Render(set);
            var claims = new List<string>();
            foreach (var name in new[] { "vireo-api", "vireo-silo-media" })
            {
                var pod = manifests.Named("Deployment", name)["spec"]!["template"]!["spec"]!;
                var container = pod["containers"]![0]!;
                var root = Env(container, "Pipeline__MediaRoot");
                var mount = container["volumeMounts"]!.AsArray().SingleOrDefault(m => (string?)m!["mountPath"] == root);
                Assert.True(mount is not null, $"{set}: {name} has nothing mounted at Pipeline__MediaRoot ({root}), under a read-only root filesystem");
                Assert.NotEqual(true, (bool?)mount["readOnly"]);
                var volume = pod["volumes"]!.AsArray().Single(v => (string?)v!["name"] == (string?)mount["name"])!;
                var claim = (string?)volume["persistentVolumeClaim"]?["claimName"];
                Assert.True(claim is not null, $"{set}: {name} keeps Pipeline__MediaRoot on a volume of its own");
                claims.Add(claim);
            }
            Assert.Single(claims.Distinct());
        }

        // Without the API nothing writes there: each silo may have an emptyDir of its own (URL sources only).
        var noApi = Manifests.Render("--set", "media.existingClaim=", "--set", "api.enabled=false");
        var media = noApi.Named("Deployment", "vireo-silo-media")["spec"]!["template"]!["spec"]!["volumes"]!.AsArray().Single(v => (string?)v!["name"] == "media")!;
        Assert.NotNull(media["emptyDir"]);
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public void TheProductionIngressPassesTheLargestUploadToTheApiAsItArrives()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var annotations = Render("production").Named("Ingress", "vireo-api")["metadata"]!["annotations"]!;
        var size = (string?)annotations["nginx.ingress.kubernetes.io/proxy-body-size"];
        Assert.True(size is not null, "ingress-nginx refuses bodies over 1 MiB unless proxy-body-size says otherwise");
        Assert.True(NginxSize(size) >= new ApiOptions().MaxUploadBytes, $"proxy-body-size {size} is under Api:MaxUploadBytes ({new ApiOptions().MaxUploadBytes})");
        Assert.Equal("off", (string?)annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"]);
    }

    [SkippableFact]
    public void TheProductionExampleSaysHowToCreateEverySecretAndClaimItExpects()
    {
        Skip.If(Tools.Helm is null, Tools.HelmMissing);
        var manifests = Render("production");
        var secrets = new SortedSet<string>(StringComparer.Ordinal);
        var claims = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (_, pod) in manifests.PodSpecs())
        {
            foreach (var container in pod["containers"]!.AsArray().Concat(pod["initContainers"]?.AsArray() ?? []))
            {
                foreach (var variable in container!["env"]?.AsArray() ?? [])
                {
                    if ((string?)variable!["valueFrom"]?["secretKeyRef"]?["name"] is { } secret)
                        secrets.Add(secret);
                }
            }
            foreach (var volume in pod["volumes"]?.AsArray() ?? [])
            {
                if ((string?)volume!["persistentVolumeClaim"]?["claimName"] is { } claim)
                    claims.Add(claim);
            }
        }
        foreach (var ingress in manifests.OfKind("Ingress"))
        {
            foreach (var tls in ingress["spec"]!["tls"]?.AsArray() ?? [])
                secrets.Add((string)tls!["secretName"]!);
        }
        Assert.Contains("vireo-tls", secrets);
        Assert.Contains("vireo-uploads", claims);

        // The header: "#   command" lines, one of them a heredoc (<<'EOF' ... EOF) holding the manifests to apply.
        var header = File.ReadLines(Helm.ProductionValues).TakeWhile(l => l.StartsWith('#')).Select(l => l.Length > 4 ? l[4..] : "").ToList();
        foreach (var secret in secrets)
            Assert.True(header.Any(l => Regex.IsMatch(l, $@"^kubectl -n vireo create secret (generic|tls) {Regex.Escape(secret)} ")),
                $"the example's header does not say how to create the Secret {secret}");
        var start = header.FindIndex(l => l.EndsWith("<<'EOF'", StringComparison.Ordinal));
        Assert.True(start >= 0, "the example's header applies no manifest");
        var applied = Manifests.Parse(string.Join('\n', header.Skip(start + 1).TakeWhile(l => l != "EOF")));
        foreach (var claim in claims)
        {
            var pvc = applied.Named("PersistentVolumeClaim", claim);
            // The API and every media silo mount it, on whichever nodes they land.
            Assert.Contains("ReadWriteMany", pvc["spec"]!["accessModes"]!.AsArray().Select(m => (string?)m));
        }
    }

    /// <summary>nginx's size syntax: bytes, or k, m, g (powers of 1024); 0 turns the limit off.</summary>
    private static long NginxSize(string size)
    {
        var match = Regex.Match(size, "^([0-9]+)([kKmMgG]?)$");
        Assert.True(match.Success, $"{size} is not an nginx size");
        var number = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var unit = match.Groups[2].Value.ToLowerInvariant() switch { "k" => 1L << 10, "m" => 1L << 20, "g" => 1L << 30, _ => 1L };
        return number == 0 ? long.MaxValue : number * unit;
    }

    private static JsonNode FirstContainer(Manifests manifests, string deployment) =>
        manifests.Named("Deployment", deployment)["spec"]!["template"]!["spec"]!["containers"]![0]!;

    private static JsonNode KafkaTrigger(JsonObject scaledObject)
    {
        var trigger = scaledObject["spec"]!["triggers"]!.AsArray().Single()!;
        Assert.Equal("kafka", (string?)trigger["type"]);
        return trigger["metadata"]!;
    }

    private static string? Env(JsonNode container, string name) =>
        (string?)container["env"]?.AsArray().FirstOrDefault(e => (string?)e!["name"] == name)?["value"];

    private static CommandResult Validate(IEnumerable<JsonObject> objects)
    {
        var file = Path.Combine(Path.GetTempPath(), $"vireo-objects-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(file, new JsonArray(objects.Select(o => o.DeepClone()).ToArray()).ToJsonString());
            return Tools.Run(Tools.Node!, [Path.Combine(AppContext.BaseDirectory, "validate-objects.mjs"), Tools.KubernetesModels!, file]);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
