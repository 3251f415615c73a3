package stacks

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// Machine is one state machine to deploy: its short name (the physical name is orrery-<env>-<name>) and its ASL
// JSON, in which resources appear as `${Placeholder}`s (see shared/pipeline's Placeholders). The pipeline stack
// hands CloudFormation the placeholders' values as DefinitionSubstitutions, so the JSON in the template is byte for
// byte the Definition given here.
type Machine struct {
	Name       string
	Definition []byte
}

// Placeholders the pipeline stack substitutes, by name (without "${" and "}").
const (
	PlaceholderStagesFunction  = "StagesFunctionArn"
	PlaceholderTrainJobQueue   = "TrainJobQueueArn"
	PlaceholderTrainJobDef     = "TrainJobDefinitionArn"
	PlaceholderDeployFunction  = "DeployFunctionArn"
	PlaceholderAlertTopic      = "AlertTopicArn"
	PlaceholderTrainingMachine = "TrainingStateMachineArn"
	// PlaceholderEvalJobQueue and PlaceholderEvalJobDef are the CPU queue and job definition of heavy
	// evaluations' fold jobs.
	PlaceholderEvalJobQueue = "EvalJobQueueArn"
	PlaceholderEvalJobDef   = "EvalJobDefinitionArn"
)

// ref is one resource a definition may name: its placeholder, the value substituted for it, and the kind of
// resource it is (which decides what a task on it may be granted).
type ref struct {
	placeholder string
	value       *string
	kind        refKind
	// grant, when set, are the resources a task on the ref is granted instead of value: every version of a
	// function invoked by version, every revision of a job definition submitted by name.
	grant []*string
}

// grantResources are the resources a task naming r is granted.
func (r ref) grantResources() []*string {
	if len(r.grant) > 0 {
		return r.grant
	}
	return []*string{r.value}
}

type refKind int

const (
	kindFunction refKind = iota + 1
	kindJobQueue
	kindJobDefinition
	kindTopic
	kindStateMachine
)

var placeholderKinds = map[string]refKind{
	PlaceholderStagesFunction: kindFunction, PlaceholderDeployFunction: kindFunction,
	PlaceholderTrainJobQueue: kindJobQueue, PlaceholderTrainJobDef: kindJobDefinition,
	PlaceholderEvalJobQueue: kindJobQueue, PlaceholderEvalJobDef: kindJobDefinition,
	PlaceholderAlertTopic: kindTopic, PlaceholderTrainingMachine: kindStateMachine,
}

var placeholderPattern = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)

// sdkIntegration prefixes the resource of an AWS SDK service integration.
const sdkIntegration = "arn:aws:states:::aws-sdk:"

// usedRefs returns the refs the definition names, each with its value from values. A placeholder without a value
// is an error wrapping ErrUnsupportedTask.
func usedRefs(machine string, definition []byte, values map[string]*string) ([]ref, error) {
	seen := map[string]bool{}
	var refs []ref
	for _, m := range placeholderPattern.FindAllSubmatch(definition, -1) {
		name := string(m[1])
		if seen[name] {
			continue
		}
		seen[name] = true
		v, ok := values[name]
		if !ok || placeholderKinds[name] == 0 {
			return nil, fmt.Errorf("state machine %s: placeholder ${%s} names no resource of this app: %w",
				machine, name, ErrUnsupportedTask)
		}
		refs = append(refs, ref{placeholder: "${" + name + "}", value: v, kind: placeholderKinds[name]})
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].placeholder < refs[j].placeholder })
	return refs, nil
}

// aslNode is the part of an ASL state (or machine) the permission walk reads.
type aslNode struct {
	StartAt       string             `json:"StartAt"`
	States        map[string]aslNode `json:"States"`
	Type          string             `json:"Type"`
	Resource      string             `json:"Resource"`
	Parameters    map[string]any     `json:"Parameters"`
	Branches      []aslNode          `json:"Branches"`
	Iterator      *aslNode           `json:"Iterator"`
	ItemProcessor *aslNode           `json:"ItemProcessor"`
}

// tasks returns every Task state of the definition, nested machines included, keyed by a path naming it.
func tasks(definition []byte) (map[string]aslNode, error) {
	var root aslNode
	if err := json.Unmarshal(definition, &root); err != nil {
		return nil, fmt.Errorf("parse definition: %w", err)
	}
	out := map[string]aslNode{}
	var walk func(prefix string, m aslNode)
	walk = func(prefix string, m aslNode) {
		for name, st := range m.States {
			path := prefix + name
			if st.Type == "Task" {
				out[path] = st
			}
			for i, b := range st.Branches {
				walk(fmt.Sprintf("%s/branch%d/", path, i), b)
			}
			if st.Iterator != nil {
				walk(path+"/", *st.Iterator)
			}
			if st.ItemProcessor != nil {
				walk(path+"/", *st.ItemProcessor)
			}
		}
	}
	walk("", root)
	return out, nil
}

// taskStatements derives the IAM statements a state machine's role needs from its definition: each Task
// resource is granted exactly the actions its service integration documents, on the resources its parameters
// name. A task naming a resource that is not one of refs, or an integration not listed here, is an error
// wrapping ErrUnsupportedTask: nothing is granted by guess.
//
// Service integrations and their permissions: Step Functions developer guide, "IAM policies for integrated
// services" (Lambda, AWS Batch, Amazon SNS, Step Functions). An AWS SDK integration
// (arn:aws:states:::aws-sdk:<service>:<apiAction>) is granted the IAM action of the same name (<service>:<ApiAction>)
// on the resources sdk lists for "<service>:<apiAction>"; one sdk does not list is an error wrapping
// ErrUnsupportedTask.
func taskStatements(machine string, definition []byte, refs []ref, sdk map[string][]*string) ([]awsiam.PolicyStatement, error) {
	all, err := tasks(definition)
	if err != nil {
		return nil, fmt.Errorf("state machine %s: %w", machine, err)
	}
	byPlaceholder := map[string]ref{}
	byKind := map[refKind][]*string{}
	for _, r := range refs {
		byPlaceholder[r.placeholder] = r
		byKind[r.kind] = append(byKind[r.kind], r.grantResources()...)
	}
	// resolve returns the resources a parameter names: the ref its value is, or every ref of the kind when the
	// value is chosen at run time (a ".$" path).
	resolve := func(task string, params map[string]any, field string, kind refKind) ([]*string, error) {
		if v, ok := params[field].(string); ok {
			r, known := byPlaceholder[v]
			if !known || r.kind != kind {
				return nil, fmt.Errorf("state machine %s: task %s: %s %q is not a deployed resource of this app: %w",
					machine, task, field, v, ErrUnsupportedTask)
			}
			return r.grantResources(), nil
		}
		if _, dynamic := params[field+".$"]; dynamic && len(byKind[kind]) > 0 {
			return byKind[kind], nil
		}
		return nil, fmt.Errorf("state machine %s: task %s: parameter %s missing: %w", machine, task, field, ErrUnsupportedTask)
	}
	type grant struct {
		actions   []string
		resources []*string
	}
	var grants []grant
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t := all[name]
		resource := t.Resource
		// Optimistic integration patterns share the base integration's permissions.
		integration := strings.TrimSuffix(strings.TrimSuffix(resource, ".waitForTaskToken"), ".sync:2")
		switch {
		case integration == "arn:aws:states:::lambda:invoke":
			fns, err := resolve(name, t.Parameters, "FunctionName", kindFunction)
			if err != nil {
				return nil, err
			}
			grants = append(grants, grant{[]string{"lambda:InvokeFunction"}, fns})
		case byPlaceholder[resource].kind == kindFunction:
			// A function ARN as the Task resource: the legacy direct invocation, of the unqualified function.
			grants = append(grants, grant{[]string{"lambda:InvokeFunction"}, byPlaceholder[resource].grantResources()})
		case integration == "arn:aws:states:::batch:submitJob" || integration == "arn:aws:states:::batch:submitJob.sync":
			queues, err := resolve(name, t.Parameters, "JobQueue", kindJobQueue)
			if err != nil {
				return nil, err
			}
			defs, err := resolve(name, t.Parameters, "JobDefinition", kindJobDefinition)
			if err != nil {
				return nil, err
			}
			// A job definition submitted by name is granted on its revisions (ref.grant).
			grants = append(grants, grant{[]string{"batch:SubmitJob"}, append(queues, defs...)})
			if strings.HasSuffix(integration, ".sync") {
				// Step Functions follows the job through a managed EventBridge rule and terminates it when
				// the execution stops; DescribeJobs has no resource-level permissions, so it takes "*".
				grants = append(grants,
					grant{[]string{"batch:TerminateJob"}, []*string{arn("batch", "job/*")}},
					grant{[]string{"batch:DescribeJobs"}, []*string{jsii.String("*")}},
					grant{[]string{"events:PutTargets", "events:PutRule", "events:DescribeRule"},
						[]*string{arn("events", "rule/StepFunctionsGetEventsForBatchJobsRule")}})
			}
		case integration == "arn:aws:states:::sns:publish":
			topics, err := resolve(name, t.Parameters, "TopicArn", kindTopic)
			if err != nil {
				return nil, err
			}
			grants = append(grants, grant{[]string{"sns:Publish"}, topics})
		case integration == "arn:aws:states:::states:startExecution" || integration == "arn:aws:states:::states:startExecution.sync":
			machines, err := resolve(name, t.Parameters, "StateMachineArn", kindStateMachine)
			if err != nil {
				return nil, err
			}
			grants = append(grants, grant{[]string{"states:StartExecution"}, machines})
			if strings.HasSuffix(resource, ".sync") || strings.HasSuffix(resource, ".sync:2") {
				var executions []*string
				for _, m := range machines {
					executions = append(executions, executionArns(m))
				}
				grants = append(grants,
					grant{[]string{"states:DescribeExecution", "states:StopExecution"}, executions},
					grant{[]string{"events:PutTargets", "events:PutRule", "events:DescribeRule"},
						[]*string{arn("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")}})
			}
		case strings.HasPrefix(resource, sdkIntegration):
			call := strings.TrimPrefix(resource, sdkIntegration)
			service, action, ok := strings.Cut(call, ":")
			resources, granted := sdk[call]
			if !ok || !granted || action == "" {
				return nil, fmt.Errorf("state machine %s: task %s: AWS SDK integration %q has no resources to grant: %w",
					machine, name, call, ErrUnsupportedTask)
			}
			grants = append(grants, grant{[]string{service + ":" + strings.ToUpper(action[:1]) + action[1:]}, resources})
		default:
			return nil, fmt.Errorf("state machine %s: task %s: resource %q: %w", machine, name, resource, ErrUnsupportedTask)
		}
	}
	// Tasks calling one integration on the same resources (two alias moves) share a statement.
	seen := map[string]bool{}
	unique := grants[:0]
	for _, g := range grants {
		var key strings.Builder
		key.WriteString(strings.Join(g.actions, ","))
		for _, r := range g.resources {
			key.WriteString("|" + *r)
		}
		if !seen[key.String()] {
			seen[key.String()] = true
			unique = append(unique, g)
		}
	}
	grants = unique
	statements := make([]awsiam.PolicyStatement, 0, len(grants))
	for _, g := range grants {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(g.actions...),
			Resources: &g.resources,
		}))
	}
	return statements, nil
}

// arn formats an ARN in the stack's partition, region and account.
func arn(service, resource string) *string {
	return awscdk.Fn_Join(jsii.String(""), jsii.Strings("arn:", *awscdk.Aws_PARTITION(), ":", service, ":",
		*awscdk.Aws_REGION(), ":", *awscdk.Aws_ACCOUNT_ID(), ":", resource))
}

// executionArns turns a state machine ARN (arn:...:stateMachine:NAME) into the ARN pattern of its executions
// (arn:...:execution:NAME:*).
func executionArns(stateMachineArn *string) *string {
	name := awscdk.Fn_Select(jsii.Number(6), awscdk.Fn_Split(jsii.String(":"), stateMachineArn, nil))
	return arn("states", "execution:"+*name+":*")
}
