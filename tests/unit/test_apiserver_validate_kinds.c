/* Validation and defaulting of the served kinds (controlplane/apiserver/validate):
 * pods, services, workloads, config and the rest, each rule with an object that
 * passes and one that fails, with Kubernetes' message as kubectl shows it. The
 * engine's own tests are in test_apiserver_validate.c. */
#include <stdio.h>

#include "apiserver/validate/validate.h"
#include "tap.h"
#include "validate_test.h"

/* ---- Pod ---- */

#define POD(spec) "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\"," \
		  "\"namespace\":\"default\"},\"spec\":" spec "}"
#define NGINX "{\"name\":\"web\",\"image\":\"nginx:1.27\"}"

static void test_pod_valid_after_defaults(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[" NGINX "]}")), "");
}

static void test_pod_image_required(void)
{
	const struct sch_kind *k = K("", "Pod");
	struct api_field_errors e = {0};
	json_t *o = defaulted(k, POD("{\"containers\":[{\"name\":\"web\"}]}"));
	json_t *st;

	validate_object(k, o, NULL, &e);
	st = api_status_invalid("", "Pod", "web", &e);
	CHECK_STREQ(api_get_str(st, "message"),
		    "Pod \"web\" is invalid: spec.containers[0].image: Required value");
	CHECK_INT(api_status_code(st), 422);
	json_decref(st);
	api_field_errors_clear(&e);
	json_decref(o);
}

static void test_pod_containers_required(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[]}")), "spec.containers: Required value");
}

static void test_pod_container_name_dns_label(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"Web\",\"image\":\"nginx\"}]}")),
		  "spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must "
		  "consist of lower case alphanumeric characters or '-', and must start and end with "
		  "an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
		  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
}

static void test_pod_container_names_unique(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[" NGINX "," NGINX "]}")),
		  "spec.containers[1].name: Duplicate value: \"web\"");
	CHECK_MSG(create(K("", "Pod"), POD("{\"initContainers\":[{\"name\":\"web\",\"image\":\"busybox\"}],"
					   "\"containers\":[" NGINX "]}")),
		  "spec.initContainers[0].name: Duplicate value: \"web\"");
}

static void test_pod_container_ports(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"ports\":[{\"containerPort\":70000}]}]}")),
		  "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 "
		  "and 65535, inclusive");
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"ports\":[{\"name\":\"http\"}]}]}")),
		  "spec.containers[0].ports[0].containerPort: Required value");
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"ports\":[{\"containerPort\":80,\"protocol\":\"ICMP\"}]}]}")),
		  "spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\": supported "
		  "values: \"SCTP\", \"TCP\", \"UDP\"");
}

static void test_pod_env_name(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"env\":[{\"name\":\"1X\",\"value\":\"a\"}]}]}")),
		  "spec.containers[0].env[0].name: Invalid value: \"1X\": a valid environment variable "
		  "name must consist of alphabetic characters, digits, '_', '-', or '.', and must not "
		  "start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex "
		  "used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')");
}

static void test_pod_env_value_from_one_source(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"env\":[{\"name\":\"X\",\"valueFrom\":{}}]}]}")),
		  "spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: "
		  "`fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
}

static void test_pod_volume_mount_needs_volume(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/d\"}]}]}")),
		  "spec.containers[0].volumeMounts[0].name: Not found: \"data\"");
	CHECK_MSG(create(K("", "Pod"), POD("{\"volumes\":[{\"name\":\"data\"}],\"containers\":[{"
					   "\"name\":\"web\",\"image\":\"nginx\",\"volumeMounts\":[{"
					   "\"name\":\"data\",\"mountPath\":\"/d\"}]}]}")), "");
}

static void test_pod_volumes_unique_and_one_source(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"volumes\":[{\"name\":\"a\",\"emptyDir\":{}},{\"name\":"
					   "\"a\",\"emptyDir\":{}}],\"containers\":[" NGINX "]}")),
		  "spec.volumes[1].name: Duplicate value: \"a\"");
	CHECK_MSG(create(K("", "Pod"), POD("{\"volumes\":[{\"name\":\"a\",\"emptyDir\":{},\"hostPath\":"
					   "{\"path\":\"/x\"}}],\"containers\":[" NGINX "]}")),
		  "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type");
	CHECK_MSG(create(K("", "Pod"), POD("{\"volumes\":[{\"name\":\"c\",\"configMap\":{}}],"
					   "\"containers\":[" NGINX "]}")),
		  "spec.volumes[0].configMap.name: Required value");
}

static void test_pod_restart_policy_enum(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"restartPolicy\":\"Sometimes\",\"containers\":[" NGINX "]}")),
		  "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", "
		  "\"OnFailure\", \"Never\"");
	CHECK_MSG(create(K("", "Pod"), POD("{\"dnsPolicy\":\"Cluster\",\"containers\":[" NGINX "]}")),
		  "spec.dnsPolicy: Unsupported value: \"Cluster\": supported values: "
		  "\"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"");
}

static void test_pod_requests_within_limits(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"resources\":{\"requests\":{\"cpu\":\"2\"},\"limits\":{\"cpu\":"
					   "\"500m\"}}}]}")),
		  "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or "
		  "equal to cpu limit of 500m");
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"resources\":{\"requests\":{\"cpu\":\"-1\"}}}]}")),
		  "spec.containers[0].resources.requests[cpu]: Invalid value: \"-1\": must be greater "
		  "than or equal to 0");
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"resources\":{\"limits\":{\"memory\":\"128Mi\",\"cpu\":\"250m\"}}}]}")),
		  "");
}

static void test_pod_probe_needs_handler(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"livenessProbe\":{\"periodSeconds\":5}}]}")),
		  "spec.containers[0].livenessProbe: Required value: must specify a handler type");
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"readinessProbe\":{\"httpGet\":{\"port\":80},\"tcpSocket\":"
					   "{\"port\":80}}}]}")),
		  "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 "
		  "handler type");
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
					   "\"livenessProbe\":{\"httpGet\":{\"port\":80},"
					   "\"successThreshold\":2}}]}")),
		  "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1");
}

static void test_pod_tolerations(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"tolerations\":[{\"operator\":\"Equal\",\"value\":\"x\"}],"
					   "\"containers\":[" NGINX "]}")),
		  "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when "
		  "`key` is empty, which means \"match all values and all keys\"");
	CHECK_MSG(create(K("", "Pod"), POD("{\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\","
					   "\"effect\":\"NoExecute\",\"tolerationSeconds\":30}],"
					   "\"containers\":[" NGINX "]}")), "");
}

static void test_pod_defaults(void)
{
	json_t *o = defaulted(K("", "Pod"),
			      POD("{\"serviceAccount\":\"robot\",\"containers\":[{\"name\":\"a\","
				  "\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}],"
				  "\"resources\":{\"limits\":{\"cpu\":\"1\"}}},{\"name\":\"b\","
				  "\"image\":\"nginx:1.27\"},{\"name\":\"c\",\"image\":"
				  "\"reg.io:5000/app@sha256:abcd\"},{\"name\":\"d\",\"image\":"
				  "\"reg.io:5000/app\"}]}"));
	json_t *cs = api_get(o, "spec.containers");

	CHECK_PATH_STR(o, "spec.restartPolicy", "Always");
	CHECK_PATH_STR(o, "spec.dnsPolicy", "ClusterFirst");
	CHECK_PATH_STR(o, "spec.schedulerName", "default-scheduler");
	CHECK_PATH_INT(o, "spec.terminationGracePeriodSeconds", 30);
	CHECK(json_is_object(api_get(o, "spec.securityContext")));
	CHECK(json_is_true(api_get(o, "spec.enableServiceLinks")));
	CHECK_PATH_STR(o, "spec.serviceAccountName", "robot");
	CHECK_PATH_STR(json_array_get(cs, 0), "imagePullPolicy", "Always");
	CHECK_PATH_STR(json_array_get(cs, 1), "imagePullPolicy", "IfNotPresent");
	CHECK_PATH_STR(json_array_get(cs, 2), "imagePullPolicy", "IfNotPresent");
	CHECK_PATH_STR(json_array_get(cs, 3), "imagePullPolicy", "Always");
	CHECK_PATH_STR(json_array_get(cs, 0), "terminationMessagePath", "/dev/termination-log");
	CHECK_PATH_STR(json_array_get(cs, 0), "terminationMessagePolicy", "File");
	CHECK_PATH_STR(json_array_get(cs, 0), "resources.requests.cpu", "1");
	CHECK_PATH_STR(json_array_get(api_get(json_array_get(cs, 0), "ports"), 0), "protocol", "TCP");
	json_decref(o);
}

static void test_pod_probe_defaults(void)
{
	json_t *o = defaulted(K("", "Pod"), POD("{\"containers\":[{\"name\":\"a\",\"image\":\"nginx\","
						 "\"livenessProbe\":{\"httpGet\":{\"port\":80},"
						 "\"timeoutSeconds\":0}}]}"));
	json_t *p = api_get(json_array_get(api_get(o, "spec.containers"), 0), "livenessProbe");

	CHECK_PATH_INT(p, "timeoutSeconds", 1);
	CHECK_PATH_INT(p, "periodSeconds", 10);
	CHECK_PATH_INT(p, "successThreshold", 1);
	CHECK_PATH_INT(p, "failureThreshold", 3);
	CHECK_PATH_STR(p, "httpGet.path", "/");
	CHECK_PATH_STR(p, "httpGet.scheme", "HTTP");
	json_decref(o);
}

static const char *qos_of(const char *spec)
{
	static char out[32];
	const struct sch_kind *k = K("", "Pod");
	_cleanup_free_ char *pod = xasprintf("{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},"
					     "\"spec\":%s}", spec);
	json_t *o = defaulted(k, pod);

	validate_prepare_create(k, o);
	snprintf(out, sizeof(out), "%s", api_get_str(o, "status.qosClass") ?: "(none)");
	CHECK_STREQ(api_get_str(o, "status.phase"), "Pending");
	json_decref(o);
	return out;
}

static void test_pod_qos_class_on_create(void)
{
	CHECK_STREQ(qos_of("{\"containers\":[" NGINX "]}"), "BestEffort");
	CHECK_STREQ(qos_of("{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"limits\":"
			   "{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}"), "Guaranteed");
	CHECK_STREQ(qos_of("{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"requests\":"
			   "{\"cpu\":\"100m\"}}}]}"), "Burstable");
}

static void test_pod_update_image_allowed_others_forbidden(void)
{
	const char *old = POD("{\"containers\":[" NGINX "]}");
	const struct sch_kind *k = K("", "Pod");
	struct api_field_errors e = {0};
	json_t *o = defaulted(k, old), *n = defaulted(k, POD("{\"containers\":[{\"name\":\"web\","
							     "\"image\":\"nginx:1.28\"}]}"));
	char *msg;

	validate_object(k, n, o, &e);
	CHECK_INT(e.n, 0);
	api_field_errors_clear(&e);
	json_decref(n);
	n = defaulted(k, POD("{\"nodeName\":\"n1\",\"containers\":[" NGINX "]}"));
	validate_object(k, n, o, &e);
	msg = api_field_errors_aggregate(&e);
	CHECK(str_has_prefix(msg, "spec: Forbidden: pod updates may not change fields other than "
				  "`spec.containers[*].image`,`spec.initContainers[*].image`,"
				  "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
				  "to existing tolerations),`spec.terminationGracePeriodSeconds` "
				  "(allow it to be set to 1 if it was previously negative)\n"));
	CHECK(strstr(msg, "NodeName") != NULL);
	free(msg);
	api_field_errors_clear(&e);
	json_decref(n);
	n = defaulted(k, POD("{\"containers\":[" NGINX ",{\"name\":\"b\",\"image\":\"x\"}]}"));
	validate_object(k, n, o, &e);
	msg = api_field_errors_aggregate(&e);
	CHECK_STREQ(msg, "spec.containers: Forbidden: pod updates may not add or remove containers");
	free(msg);
	api_field_errors_clear(&e);
	json_decref(n);
	json_decref(o);
}

static void test_pod_ephemeral_containers_not_on_create(void)
{
	CHECK_MSG(create(K("", "Pod"), POD("{\"containers\":[" NGINX "],\"ephemeralContainers\":[{"
					   "\"name\":\"dbg\",\"image\":\"busybox\"}]}")),
		  "spec.ephemeralContainers: Forbidden: cannot be set on create");
}

static void test_pod_unknown_field_paths(void)
{
	const struct sch_kind *k = K("", "Pod");

	CHECK_MSG(unknown(k->type, POD("{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\","
				       "\"imagePullPolicyy\":\"Always\"}],\"restartpolicy\":\"x\"}")),
		  "unknown field \"spec.containers[0].imagePullPolicyy\", unknown field "
		  "\"spec.restartpolicy\"");
}


/* ---- Service and Endpoints ---- */

#define SVC(name, spec) "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"" \
			name "\",\"namespace\":\"default\"},\"spec\":" spec "}"

static void test_service_valid_and_defaults(void)
{
	const struct sch_kind *k = K("", "Service");
	json_t *o = defaulted(k, SVC("web", "{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}"));
	struct api_field_errors e = {0};

	CHECK_PATH_STR(o, "spec.type", "ClusterIP");
	CHECK_PATH_STR(o, "spec.sessionAffinity", "None");
	CHECK_PATH_STR(o, "spec.internalTrafficPolicy", "Cluster");
	CHECK_PATH_STR(json_array_get(api_get(o, "spec.ports"), 0), "protocol", "TCP");
	CHECK_PATH_INT(json_array_get(api_get(o, "spec.ports"), 0), "targetPort", 80);
	CHECK(!api_get(o, "spec.externalTrafficPolicy"));
	validate_object(k, o, NULL, &e);
	CHECK_INT(e.n, 0);
	api_field_errors_clear(&e);
	json_decref(o);
	o = defaulted(k, SVC("web", "{\"type\":\"NodePort\",\"clusterIP\":\"198.19.0.10\","
				    "\"ports\":[{\"port\":80,\"targetPort\":\"http\"}]}"));
	CHECK_PATH_STR(o, "spec.externalTrafficPolicy", "Cluster");
	CHECK_PATH_STR(json_array_get(api_get(o, "spec.ports"), 0), "targetPort", "http");
	CHECK_STREQ(json_string_value(json_array_get(api_get(o, "spec.clusterIPs"), 0)),
		    "198.19.0.10");
	json_decref(o);
}

static void test_service_name_dns1035(void)
{
	CHECK_MSG(create(K("", "Service"), SVC("1web", "{\"ports\":[{\"port\":80}]}")),
		  "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case "
		  "alphanumeric characters or '-', start with an alphabetic character, and end with an "
		  "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
		  "'[a-z]([-a-z0-9]*[a-z0-9])?')");
}

static void test_service_ports(void)
{
	const struct sch_kind *k = K("", "Service");

	CHECK_MSG(create(k, SVC("web", "{\"selector\":{\"app\":\"web\"}}")),
		  "spec.ports: Required value");
	/* targetPort defaults to port: both are reported, as Kubernetes does. */
	CHECK_MSG(create(k, SVC("web", "{\"ports\":[{\"port\":0}]}")),
		  "[spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, "
		  "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive]");
	CHECK_MSG(create(k, SVC("web", "{\"ports\":[{\"port\":80},{\"port\":443}]}")),
		  "[spec.ports[0].name: Required value, spec.ports[1].name: Required value]");
	CHECK_MSG(create(k, SVC("web", "{\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"a\","
				       "\"port\":81}]}")),
		  "spec.ports[1].name: Duplicate value: \"a\"");
	CHECK_MSG(create(k, SVC("web", "{\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\","
				       "\"port\":80}]}")),
		  "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", "
		  "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, "
		  "IntVal:0, StrVal:\"\"}, NodePort:0}");
	CHECK_MSG(create(k, SVC("web", "{\"ports\":[{\"port\":80,\"nodePort\":30080}]}")),
		  "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
}

static void test_service_types(void)
{
	const struct sch_kind *k = K("", "Service");

	CHECK_MSG(create(k, SVC("web", "{\"type\":\"Internal\",\"ports\":[{\"port\":80}]}")),
		  "spec.type: Unsupported value: \"Internal\": supported values: \"ClusterIP\", "
		  "\"ExternalName\", \"LoadBalancer\", \"NodePort\"");
	CHECK_MSG(create(k, SVC("web", "{\"type\":\"ExternalName\"}")),
		  "spec.externalName: Required value");
	CHECK_MSG(create(k, SVC("web", "{\"type\":\"ExternalName\",\"externalName\":"
				       "\"db.example.com.\"}")), "");
	CHECK_MSG(create(k, SVC("web", "{\"clusterIP\":\"None\"}")), "");
}

static void test_service_update_keeps_allocated_cluster_ip(void)
{
	const struct sch_kind *k = K("", "Service");
	json_t *old = defaulted(k, SVC("web", "{\"clusterIP\":\"198.19.0.10\",\"ports\":[{\"port\":80}]}"));
	json_t *n = defaulted(k, SVC("web", "{\"ports\":[{\"port\":8080}]}"));
	struct api_field_errors e = {0};
	char *msg;

	validate_prepare_update(k, n, old);
	validate_object(k, n, old, &e);
	CHECK_INT(e.n, 0);
	CHECK_PATH_STR(n, "spec.clusterIP", "198.19.0.10");
	api_field_errors_clear(&e);
	json_decref(n);
	n = defaulted(k, SVC("web", "{\"clusterIP\":\"198.19.0.20\",\"ports\":[{\"port\":80}]}"));
	validate_prepare_update(k, n, old);
	validate_object(k, n, old, &e);
	msg = api_field_errors_aggregate(&e);
	CHECK_STREQ(msg, "spec.clusterIPs[0]: Invalid value: []string{\"198.19.0.20\"}: may not "
			 "change once set");
	free(msg);
	api_field_errors_clear(&e);
	json_decref(n);
	json_decref(old);
}

static void test_endpoints_subsets(void)
{
	const struct sch_kind *k = K("", "Endpoints");

	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":"
			    "[{\"addresses\":[{\"ip\":\"198.18.0.5\"}],\"ports\":[{\"port\":80}]}]}"), "");
	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":"
			    "[{\"ports\":[{\"port\":80}]}]}"),
		  "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`");
	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":"
			    "[{\"addresses\":[{\"ip\":\"127.0.0.1\"}]}]}"),
		  "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the "
		  "loopback range (127.0.0.0/8, ::1/128)");
}

/* ---- workloads ---- */

#define TMPL(labels) "\"template\":{\"metadata\":{\"labels\":" labels "},\"spec\":{\"containers\":" \
		     "[" NGINX "]}}"
#define DEPLOY(spec) "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":" \
		     "\"web\",\"namespace\":\"default\"},\"spec\":" spec "}"

static void test_deployment_valid_and_defaults(void)
{
	const struct sch_kind *k = K("apps", "Deployment");
	json_t *o = defaulted(k, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
					TMPL("{\"app\":\"web\"}") "}"));
	struct api_field_errors e = {0};

	CHECK_PATH_INT(o, "spec.replicas", 1);
	CHECK_PATH_INT(o, "spec.revisionHistoryLimit", 10);
	CHECK_PATH_INT(o, "spec.progressDeadlineSeconds", 600);
	CHECK_PATH_STR(o, "spec.strategy.type", "RollingUpdate");
	CHECK_PATH_STR(o, "spec.strategy.rollingUpdate.maxUnavailable", "25%");
	CHECK_PATH_STR(o, "spec.strategy.rollingUpdate.maxSurge", "25%");
	CHECK_PATH_STR(o, "spec.template.spec.restartPolicy", "Always");
	CHECK_PATH_STR(json_array_get(api_get(o, "spec.template.spec.containers"), 0),
		       "imagePullPolicy", "IfNotPresent");
	validate_object(k, o, NULL, &e);
	CHECK_INT(e.n, 0);
	api_field_errors_clear(&e);
	json_decref(o);
	o = defaulted(k, DEPLOY("{\"replicas\":0,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
				TMPL("{\"app\":\"web\"}") "}"));
	CHECK_PATH_INT(o, "spec.replicas", 0);
	json_decref(o);
}

static void test_deployment_selector_must_match_template(void)
{
	const struct sch_kind *k = K("apps", "Deployment");

	CHECK_MSG(create(k, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"api\"}},"
				   TMPL("{\"app\":\"web\"}") "}")),
		  "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: "
		  "`selector` does not match template `labels`");
	CHECK_MSG(create(k, DEPLOY("{" TMPL("{\"app\":\"web\"}") "}")),
		  "[spec.selector: Required value, spec.template.metadata.labels: Invalid value: "
		  "map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`]");
	CHECK_MSG(create(k, DEPLOY("{\"selector\":{}," TMPL("{\"app\":\"web\"}") "}")),
		  "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
		  "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
		  "deployment");
}

static void test_deployment_spec_rules(void)
{
	const struct sch_kind *k = K("apps", "Deployment");

	CHECK_MSG(create(k, DEPLOY("{\"replicas\":-1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
				   TMPL("{\"app\":\"web\"}") "}")),
		  "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
	CHECK_MSG(create(k, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{"
				   "\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
				   "\"restartPolicy\":\"Never\",\"containers\":[" NGINX "]}}}")),
		  "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: "
		  "\"Always\"");
	CHECK_MSG(create(k, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"strategy\":{"
				   "\"type\":\"Recreate\",\"rollingUpdate\":{}}," TMPL("{\"app\":\"web\"}")
				   "}")),
		  "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` "
		  "is 'Recreate'");
	CHECK_MSG(create(k, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"strategy\":{"
				   "\"rollingUpdate\":{\"maxUnavailable\":0,\"maxSurge\":0}},"
				   TMPL("{\"app\":\"web\"}") "}")),
		  "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, "
		  "IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0");
	CHECK_MSG(create(k, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
				   "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
				   "\"containers\":[{\"name\":\"web\"}]}}}")),
		  "spec.template.spec.containers[0].image: Required value");
}

static void test_deployment_selector_immutable(void)
{
	const struct sch_kind *k = K("apps", "Deployment");
	json_t *old = defaulted(k, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
					  TMPL("{\"app\":\"web\"}") "}"));
	json_t *n = defaulted(k, DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"v2\"}},"
					TMPL("{\"app\":\"v2\"}") "}"));
	struct api_field_errors e = {0};
	char *msg;

	validate_object(k, n, old, &e);
	msg = api_field_errors_aggregate(&e);
	CHECK_STREQ(msg, "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:"
			 "map[string]string{\"app\":\"v2\"}, MatchExpressions:"
			 "[]v1.LabelSelectorRequirement(nil)}: field is immutable");
	free(msg);
	api_field_errors_clear(&e);
	json_decref(n);
	json_decref(old);
}

static void test_template_labels_path(void)
{
	CHECK_MSG(create(K("apps", "ReplicaSet"),
			 "{\"metadata\":{\"name\":\"rs\",\"namespace\":\"default\"},\"spec\":{\"selector\":"
			 "{\"matchLabels\":{\"app\":\"web\"}}," TMPL("{\"app\":\"web\",\"bad key\":\"x\"}")
			 "}}"),
		  "spec.template.labels: Invalid value: \"bad key\": name part must consist of "
		  "alphanumeric characters, '-', '_' or '.', and must start and end with an "
		  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
		  "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
}

static void test_daemonset_and_statefulset(void)
{
	json_t *o = defaulted(K("apps", "DaemonSet"),
			      "{\"metadata\":{\"name\":\"ds\",\"namespace\":\"default\"},\"spec\":{"
			      "\"selector\":{\"matchLabels\":{\"app\":\"a\"}}," TMPL("{\"app\":\"a\"}") "}}");

	CHECK_PATH_INT(o, "spec.updateStrategy.rollingUpdate.maxUnavailable", 1);
	CHECK_PATH_INT(o, "spec.updateStrategy.rollingUpdate.maxSurge", 0);
	json_decref(o);
	CHECK_MSG(create(K("apps", "StatefulSet"),
			 "{\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},\"spec\":{"
			 "\"serviceName\":\"db\",\"selector\":{\"matchLabels\":{\"app\":\"db\"}},"
			 TMPL("{\"app\":\"db\"}") "}}"), "");
	CHECK_MSG(create(K("apps", "StatefulSet"),
			 "{\"metadata\":{\"name\":\"db.1\",\"namespace\":\"default\"},\"spec\":{"
			 "\"selector\":{\"matchLabels\":{\"app\":\"db\"}}," TMPL("{\"app\":\"db\"}") "}}"),
		  "metadata.name: Invalid value: \"db.1\": must not contain dots");
}

static void test_job_rules_and_defaults(void)
{
	const struct sch_kind *k = K("batch", "Job");
	struct api_field_errors e = {0};
	json_t *o = defaulted(k, "{\"metadata\":{\"name\":\"pi\",\"namespace\":\"default\"},\"spec\":{"
				 "\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":["
				 "{\"name\":\"pi\",\"image\":\"perl\"}]}}}}");
	char *msg;

	CHECK_PATH_INT(o, "spec.backoffLimit", 6);
	CHECK_PATH_INT(o, "spec.completions", 1);
	CHECK_PATH_INT(o, "spec.parallelism", 1);
	CHECK_PATH_STR(o, "spec.completionMode", "NonIndexed");
	api_meta_set_uid(o, "0d5d1d39-1e1f-4c8e-9d6f-1f6a0c3b9e21");
	validate_prepare_create(k, o);
	CHECK_PATH_STR(o, "spec.template.metadata.labels.job-name", "pi");
	validate_object(k, o, NULL, &e);
	msg = api_field_errors_aggregate(&e);
	CHECK_STREQ(msg, "");
	free(msg);
	api_field_errors_clear(&e);
	json_decref(o);
	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"pi\",\"namespace\":\"default\"},\"spec\":{"
			    "\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{\"metadata\":"
			    "{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"pi\","
			    "\"image\":\"perl\"}]}}}}"),
		  "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: "
		  "\"OnFailure\", \"Never\"");
}

#define CRONJOB(sched) "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"spec\":{" \
			"\"schedule\":\"" sched "\",\"jobTemplate\":{\"spec\":{\"template\":{" \
			"\"spec\":{\"restartPolicy\":\"OnFailure\",\"containers\":[" NGINX "]}}}}}}"

static void test_cronjob_schedule(void)
{
	CHECK_MSG(create(K("batch", "CronJob"), CRONJOB("*/5 * * * *")), "");
	CHECK_MSG(create(K("batch", "CronJob"), CRONJOB("* * *")),
		  "spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: "
		  "[* * *]");
	CHECK_MSG(create(K("batch", "CronJob"), CRONJOB("0 25 * * *")),
		  "spec.schedule: Invalid value: \"0 25 * * *\": end of range (25) above maximum "
		  "(23): 25");
}

/* ---- config and namespaces ---- */

static void test_configmap_keys_and_size(void)
{
	const struct sch_kind *k = K("", "ConfigMap");

	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"data\":"
			    "{\"a b\":\"x\"}}"),
		  "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric "
		  "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
		  "used for validation is '[-._a-zA-Z0-9]+')");
	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"data\":"
			    "{\"k\":\"x\"},\"binaryData\":{\"k\":\"eA==\"}}"),
		  "data[k]: Invalid value: \"k\": duplicate of key present in binaryData");
}

static void test_configmap_immutable(void)
{
	const struct sch_kind *k = K("", "ConfigMap");

	CHECK_MSG(check(k, "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"immutable\":true,"
			   "\"data\":{\"k\":\"2\"}}",
			"{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"immutable\":true,"
			"\"data\":{\"k\":\"1\"}}"),
		  "data: Forbidden: field is immutable when `immutable` is set");
}

static void test_secret_string_data_and_types(void)
{
	const struct sch_kind *k = K("", "Secret");
	json_t *o = defaulted(k, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"default\"},"
				 "\"stringData\":{\"user\":\"admin\"}}");

	CHECK_PATH_STR(o, "data.user", "YWRtaW4=");
	CHECK_PATH_STR(o, "type", "Opaque");
	CHECK(!api_get(o, "stringData"));
	json_decref(o);
	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"default\"},\"type\":"
			    "\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"eA==\"}}"),
		  "data[tls.key]: Required value");
	CHECK_MSG(check(k, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"default\"},\"type\":\"b\"}",
			"{\"metadata\":{\"name\":\"s\",\"namespace\":\"default\"},\"type\":\"a\"}"),
		  "type: Invalid value: \"b\": field is immutable");
}

static void test_namespace_name_and_label(void)
{
	const struct sch_kind *k = K("", "Namespace");
	json_t *o = defaulted(k, "{\"metadata\":{\"name\":\"team-a\"}}");

	CHECK_STREQ(api_meta_label(o, "kubernetes.io/metadata.name"), "team-a");
	json_decref(o);
	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"team.a\"}}"),
		  "metadata.name: Invalid value: \"team.a\": must not contain dots");
	CHECK_MSG(create(k, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"}}"),
		  "metadata.namespace: Forbidden: not allowed on this type");
}

static void test_node_taints(void)
{
	CHECK_MSG(create(K("", "Node"), "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"taints\":["
					"{\"key\":\"a\",\"effect\":\"NoSchedule\"},{\"key\":\"a\","
					"\"effect\":\"NoSchedule\"},{\"key\":\"b\",\"effect\":\"Never\"}]}}"),
		  "[metadata.taints[1]: Duplicate value: core.Taint{Key:\"a\", Value:\"\", "
		  "Effect:\"NoSchedule\", TimeAdded:<nil>}: taints must be unique by key and effect pair, "
		  "metadata.taints[2].effect: Unsupported value: \"Never\": supported values: "
		  "\"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"]");
}

/* ---- other groups ---- */

static void test_rbac_rules_and_bindings(void)
{
	const char *rbac = "rbac.authorization.k8s.io";

	CHECK_MSG(create(sch_kind_by_name(rbac, "v1", "Role"),
			 "{\"metadata\":{\"name\":\"r\",\"namespace\":\"default\"},\"rules\":[{"
			 "\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]}"),
		  "rules[0].verbs: Required value: verbs must contain at least one value");
	CHECK_MSG(create(sch_kind_by_name(rbac, "v1", "RoleBinding"),
			 "{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\"},\"roleRef\":{"
			 "\"kind\":\"Group\",\"name\":\"r\"},\"subjects\":[{\"kind\":\"User\","
			 "\"name\":\"alice\"}]}"),
		  "roleRef.kind: Unsupported value: \"Group\": supported values: \"Role\", "
		  "\"ClusterRole\"");
	CHECK_MSG(check(sch_kind_by_name(rbac, "v1", "RoleBinding"),
			"{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\"},\"roleRef\":{"
			"\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"r2\"}}",
			"{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\"},\"roleRef\":{"
			"\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"r\"}}"),
		  "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", "
		  "Kind:\"Role\", Name:\"r2\"}: cannot change roleRef");
}

static void test_networking_kinds(void)
{
	const char *net = "networking.k8s.io";
	json_t *o = defaulted(sch_kind_by_name(net, "v1", "NetworkPolicy"),
			      "{\"metadata\":{\"name\":\"np\",\"namespace\":\"default\"},\"spec\":{"
			      "\"egress\":[{}]}}");

	char *types = api_json_dumps(api_get(o, "spec.policyTypes"));

	CHECK_STREQ(types, "[\"Ingress\",\"Egress\"]");
	free(types);
	json_decref(o);
	CHECK_MSG(create(sch_kind_by_name(net, "v1", "Ingress"),
			 "{\"metadata\":{\"name\":\"i\",\"namespace\":\"default\"},\"spec\":{\"rules\":[{"
			 "\"host\":\"example.com\",\"http\":{\"paths\":[{\"path\":\"/\",\"backend\":{"
			 "\"service\":{\"name\":\"web\",\"port\":{\"number\":80}}}}]}}]}}"),
		  "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified");
}

static void test_slice_lease_pdb_event(void)
{
	CHECK_MSG(create(sch_kind_by_name("discovery.k8s.io", "v1", "EndpointSlice"),
			 "{\"metadata\":{\"name\":\"s\",\"namespace\":\"default\"},\"endpoints\":[{"
			 "\"addresses\":[]}]}"),
		  "[addressType: Required value, endpoints[0].addresses: Required value: must contain "
		  "at least 1 address]");
	CHECK_MSG(create(sch_kind_by_name("coordination.k8s.io", "v1", "Lease"),
			 "{\"metadata\":{\"name\":\"l\",\"namespace\":\"default\"},\"spec\":{"
			 "\"leaseDurationSeconds\":0}}"),
		  "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0");
	CHECK_MSG(create(sch_kind_by_name("policy", "v1", "PodDisruptionBudget"),
			 "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{"
			 "\"minAvailable\":\"150%\"}}"),
		  "spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, "
		  "StrVal:\"150%\"}: must not be greater than 100%");
	CHECK_MSG(create(K("", "Event"), "{\"metadata\":{\"name\":\"web.17a\",\"namespace\":"
					 "\"default\"},\"involvedObject\":{\"kind\":\"Pod\","
					 "\"namespace\":\"other\",\"name\":\"web\"}}"),
		  "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace");
}

static void test_decode_real_kinds(void)
{
	CHECK_MSG(decode(K("apps", "Deployment")->type, DEPLOY("{\"replicas\":\"3\"}")),
		  "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of "
		  "type int32");
	CHECK_MSG(decode(K("", "Pod")->type, POD("{\"containers\":[{\"name\":\"a\",\"resources\":{"
						 "\"limits\":{\"cpu\":\"lots\"}}}]}")),
		  "quantities must match the regular expression "
		  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
}


static void test_prune_canonical_quantities_and_times(void)
{
	const struct sch_kind *k = K("", "Pod");
	json_t *o = J(POD("{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"resources\":{"
			  "\"requests\":{\"cpu\":\"0.5\",\"memory\":\"1024Mi\",\"ephemeral-storage\":1000}}}]}"));

	api_set_str(o, "metadata.creationTimestamp", "2026-01-01T02:00:00+02:00");
	validate_prune(k->type, o);
	CHECK_PATH_STR(json_array_get(api_get(o, "spec.containers"), 0), "resources.requests.cpu",
		       "500m");
	CHECK_PATH_STR(json_array_get(api_get(o, "spec.containers"), 0), "resources.requests.memory",
		       "1Gi");
	CHECK_PATH_STR(json_array_get(api_get(o, "spec.containers"), 0),
		       "resources.requests.ephemeral-storage", "1k");
	CHECK_PATH_STR(o, "metadata.creationTimestamp", "2026-01-01T00:00:00Z");
	json_decref(o);
}

int main(void)
{
	RUN(test_pod_valid_after_defaults);
	RUN(test_pod_image_required);
	RUN(test_pod_containers_required);
	RUN(test_pod_container_name_dns_label);
	RUN(test_pod_container_names_unique);
	RUN(test_pod_container_ports);
	RUN(test_pod_env_name);
	RUN(test_pod_env_value_from_one_source);
	RUN(test_pod_volume_mount_needs_volume);
	RUN(test_pod_volumes_unique_and_one_source);
	RUN(test_pod_restart_policy_enum);
	RUN(test_pod_requests_within_limits);
	RUN(test_pod_probe_needs_handler);
	RUN(test_pod_tolerations);
	RUN(test_pod_defaults);
	RUN(test_pod_probe_defaults);
	RUN(test_pod_qos_class_on_create);
	RUN(test_pod_update_image_allowed_others_forbidden);
	RUN(test_pod_ephemeral_containers_not_on_create);
	RUN(test_pod_unknown_field_paths);
	RUN(test_service_valid_and_defaults);
	RUN(test_service_name_dns1035);
	RUN(test_service_ports);
	RUN(test_service_types);
	RUN(test_service_update_keeps_allocated_cluster_ip);
	RUN(test_endpoints_subsets);
	RUN(test_deployment_valid_and_defaults);
	RUN(test_deployment_selector_must_match_template);
	RUN(test_deployment_spec_rules);
	RUN(test_deployment_selector_immutable);
	RUN(test_template_labels_path);
	RUN(test_daemonset_and_statefulset);
	RUN(test_job_rules_and_defaults);
	RUN(test_cronjob_schedule);
	RUN(test_configmap_keys_and_size);
	RUN(test_configmap_immutable);
	RUN(test_secret_string_data_and_types);
	RUN(test_namespace_name_and_label);
	RUN(test_node_taints);
	RUN(test_rbac_rules_and_bindings);
	RUN(test_networking_kinds);
	RUN(test_slice_lease_pdb_event);
	RUN(test_decode_real_kinds);
	RUN(test_prune_canonical_quantities_and_times);
	return tap_done();
}
