import {
  compareWithApproved,
  detachLine,
  parseApprovedList,
  stateListLines,
  vpcAddresses,
} from '../../lambdas/shared/domain/detach-vpc';
import { COMMANDS, parseCommand, stateLocationOf, vpcAddresses as reexported } from '../../buildspecs/helper/terraform-step';

/** `terraform state list` of a deployed gateway, as the deployer's workspace (module "gateway") shows it. */
const STATE_LIST = [
  'data.aws_eks_cluster_auth.default',
  'module.gateway.data.aws_caller_identity.current',
  'module.gateway.terraform_data.cluster',
  'module.gateway.module.vpc.data.aws_availability_zones.available',
  'module.gateway.module.vpc.aws_vpc.this[0]',
  'module.gateway.module.vpc.aws_subnet.private["eu-central-1a"]',
  'module.gateway.module.vpc.module.nat.aws_nat_gateway.this[0]',
  'module.gateway.module.vpc_endpoints.aws_vpc_endpoint.s3',
  'module.gateway.module.vpcs.aws_vpc.other',
  'module.gateway.module.eks.module.vpc.aws_security_group.node',
  'module.gateway.module.gateway_agent.terraform_data.helm_release',
];

describe('vpcAddresses', () => {
  test('keeps exactly the VPC module of the gateway module, nested resources and data sources included, in order', () => {
    expect(vpcAddresses(STATE_LIST)).toEqual([
      'module.gateway.module.vpc.data.aws_availability_zones.available',
      'module.gateway.module.vpc.aws_vpc.this[0]',
      'module.gateway.module.vpc.aws_subnet.private["eu-central-1a"]',
      'module.gateway.module.vpc.module.nat.aws_nat_gateway.this[0]',
    ]);
  });

  test('the seed\'s root-level layout: module.vpc. and module.vpc[ prefixes', () => {
    expect(vpcAddresses(['module.vpc.aws_vpc.this[0]', 'module.vpc[0].aws_subnet.a', 'module.vpc_endpoints.x.y', 'module.vpcx.a.b', 'aws_vpc.module'])).toEqual([
      'module.vpc.aws_vpc.this[0]',
      'module.vpc[0].aws_subnet.a',
    ]);
  });

  test('a gateway module called otherwise (customized gateway.tf), with count or for_each', () => {
    expect(
      vpcAddresses(['module.apheris_gateway.module.vpc.aws_vpc.this[0]', 'module.gw[0].module.vpc.aws_vpc.this[0]', 'module.gw["a.b"].module.vpc[1].aws_subnet.x']),
    ).toEqual(['module.apheris_gateway.module.vpc.aws_vpc.this[0]', 'module.gw[0].module.vpc.aws_vpc.this[0]', 'module.gw["a.b"].module.vpc[1].aws_subnet.x']);
  });

  test('not module.vpc_endpoints, module.vpcs, or a module.vpc inside another module', () => {
    expect(vpcAddresses(['module.gateway.module.vpc_endpoints.a.b', 'module.gateway.module.vpcs.a.b', 'module.gateway.module.eks.module.vpc.a.b', 'module.gateway.vpc.a'])).toEqual([]);
  });

  test('blank lines and surrounding spaces are ignored; duplicates kept once', () => {
    expect(vpcAddresses(['', '  module.vpc.a.b  ', 'module.vpc.a.b'])).toEqual(['module.vpc.a.b']);
  });

  test('terraform-step re-exports the same function', () => {
    expect(reexported).toBe(vpcAddresses);
  });
});

test('stateListLines splits terraform state list output', () => {
  expect(stateListLines('a.b\nmodule.vpc.c.d\n\n')).toEqual(['a.b', 'module.vpc.c.d']);
  expect(stateListLines('')).toEqual([]);
});

describe('compareWithApproved', () => {
  test('the same addresses in another order: no difference', () => {
    expect(compareWithApproved(['a', 'b'], ['b', 'a'])).toBeNull();
  });

  test('names what appeared and what is gone', () => {
    expect(compareWithApproved(['a', 'b'], ['b', 'c'])).toEqual({ added: ['c'], missing: ['a'] });
  });

  test('empty against empty: no difference', () => {
    expect(compareWithApproved([], [])).toBeNull();
  });
});

describe('parseApprovedList', () => {
  const expected = { gateway: 'gw', stateKey: 'gateways/gw/terraform.tfstate' };
  const report = (extra: Record<string, unknown> = {}) => ({
    operation: 'detach-vpc',
    status: 'listed',
    gateway: 'gw',
    runId: 'run-1',
    stateBucket: 'state',
    stateKey: 'gateways/gw/terraform.tfstate',
    addresses: ['module.gateway.module.vpc.terraform_data.vpc[0]'],
    listedAt: '2025-06-01T00:00:00.000Z',
    ...extra,
  });

  test('a list-vpc report gives its addresses', () => {
    expect(parseApprovedList(report(), expected)).toEqual(['module.gateway.module.vpc.terraform_data.vpc[0]']);
    expect(parseApprovedList(report({ addresses: [] }), expected)).toEqual([]);
  });

  test('an address outside module.vpc is refused, so state rm can never forget anything else', () => {
    expect(() => parseApprovedList(report({ addresses: ['module.gateway.module.vpc.a.b', 'module.gateway.terraform_data.cluster'] }), expected)).toThrow(
      'the approved detach-vpc list holds addresses outside module.vpc: "module.gateway.terraform_data.cluster"',
    );
    expect(() => parseApprovedList(report({ addresses: [' module.vpc.a.b'] }), expected)).toThrow('outside module.vpc');
    expect(() => parseApprovedList(report({ addresses: [42] }), expected)).toThrow('outside module.vpc: 42');
  });

  test.each([
    ['not an object', null, 'is not a list-vpc report'],
    ['another document', { status: 'applied' }, 'is not a list-vpc report'],
    ['another gateway', report({ gateway: 'other' }), 'is for gateway other, not gw'],
    ['another state', report({ stateKey: 'x/terraform.tfstate' }), 'is for the state x/terraform.tfstate, but this workspace uses gateways/gw/terraform.tfstate'],
  ])('%s is refused', (_what, value, message) => {
    expect(() => parseApprovedList(value, expected)).toThrow(message);
  });
});

test('detachLine', () => {
  expect(detachLine(3)).toBe('Detach from Terraform state: 3 module.vpc resources (nothing is destroyed in AWS)');
  expect(detachLine(1)).toBe('Detach from Terraform state: 1 module.vpc resource (nothing is destroyed in AWS)');
});

describe('terraform-step commands', () => {
  test.each([...COMMANDS])('%s is a command', (command) => {
    expect(parseCommand(command)).toBe(command);
  });

  test.each([undefined, '', 'destroy', 'state rm'])('%j is refused with the usage', (arg) => {
    expect(() => parseCommand(arg)).toThrow('usage: terraform-step.js plan|apply|list-vpc|detach-vpc');
  });

  test('stateLocationOf reads the rendered s3 backend, undoing the template escapes', () => {
    const backend = { terraform: { backend: { s3: { bucket: 'state-bucket', key: 'gateways/$${x}/%%{y}.tfstate', region: 'eu-central-1' } } } };
    expect(stateLocationOf(backend)).toEqual({ bucket: 'state-bucket', key: 'gateways/${x}/%{y}.tfstate' });
    expect(() => stateLocationOf({ terraform: { backend: { local: {} } } })).toThrow('backend.tf.json has no s3 backend');
  });
});
